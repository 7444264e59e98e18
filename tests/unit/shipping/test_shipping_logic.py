"""shipping.logic on a small in-memory repository that keeps the DynamoDB conditions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipping import logic
from shipping.errors import (
    ConcurrentModification,
    ShipmentAlreadyCancelled,
    ShipmentExists,
    ShipmentNotScheduled,
    ShippingUnavailable,
)
from shipping.models import (
    CancellationResult,
    CancelShipmentInput,
    CustomerAddress,
    ScheduleShipmentInput,
    Shipment,
    ShipmentResult,
    ShipmentStatus,
)
from shipping.repository import ShippingRepository
from shop_shared.bus import BusEvent
from shop_shared.events import DomainEvent
from shop_shared.sealing import SealedValueUnreadable
from tests.support.sealing import FakeOpener, fake_seal

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
CUSTOMER = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"
ITEMS = [{"sku": "ESPRESSO-250G", "quantity": 2}, {"sku": "MUG-CERAMIC", "quantity": 1}]
BERLIN = {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
LONDON = {"line1": "12 Analytical Row", "city": "London", "postalCode": "NW1", "country": "GB"}
POLE = {"line1": "Amundsen-Scott", "city": "South Pole", "postalCode": "0000", "country": "AQ"}


class FakeShippingRepository(ShippingRepository):
    """Dicts instead of a table, with the same conditions. `before_write` runs once before the
    next write, to play a concurrent writer."""

    def __init__(self) -> None:
        self.shipments: dict[str, Shipment] = {}
        self.addresses: dict[str, CustomerAddress] = {}
        self.events: list[DomainEvent[Any]] = []
        self.before_write: Callable[[], None] | None = None

    def _concurrent_writer(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook:
            hook()

    def get_shipment(self, order_id: str) -> Shipment | None:
        return self.shipments.get(order_id)

    def create_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        self._concurrent_writer()
        if shipment.order_id in self.shipments:
            raise ShipmentExists("exists")
        self.shipments[shipment.order_id] = shipment
        self.events.append(event)

    def create_tombstone(self, shipment: Shipment) -> None:
        self._concurrent_writer()
        if shipment.order_id in self.shipments:
            raise ShipmentExists("exists")
        self.shipments[shipment.order_id] = shipment

    def cancel_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        self._concurrent_writer()
        current = self.shipments.get(shipment.order_id)
        if current is None or current.status is not ShipmentStatus.SCHEDULED:
            raise ShipmentNotScheduled("not scheduled")
        self.shipments[shipment.order_id] = shipment
        self.events.append(event)

    def get_address(self, customer_id: str) -> CustomerAddress | None:
        return self.addresses.get(customer_id)

    def save_address(self, registered: CustomerAddress) -> bool:
        current = self.addresses.get(registered.customer_id)
        if current is not None and current.as_of > registered.as_of:
            return False
        self.addresses[registered.customer_id] = registered
        return True

    def detail_types(self) -> list[str]:
        return [event.detail_type for event in self.events]


@pytest.fixture
def repo() -> FakeShippingRepository:
    return FakeShippingRepository()


def schedule_input(**changes: Any) -> ScheduleShipmentInput:
    """The saga's task input; a `shippingAddress` given is sealed for the order, as the saga
    input carries it."""
    task = {"orderId": ORDER, "customerId": CUSTOMER, "items": ITEMS, "correlationId": "corr-1"}
    address = changes.pop("shippingAddress", None)
    if address is not None:
        context = {"orderId": changes.get("orderId", ORDER), "field": "shippingAddress"}
        changes["shippingAddressCiphertext"] = fake_seal(json.dumps(address), context)
    return ScheduleShipmentInput.model_validate({**task, **changes})


def schedule(repo: FakeShippingRepository, **changes: Any) -> Shipment:
    ids = iter(["ABC123", "DEF456", "GHI789"])
    return logic.schedule_shipment(
        schedule_input(**changes),
        repository=repo,
        opener=FakeOpener(),
        clock=lambda: NOW,
        new_id=lambda: next(ids),
    )


def cancel(repo: FakeShippingRepository) -> Shipment:
    task = CancelShipmentInput(orderId=ORDER, correlationId="corr-2")
    return logic.cancel_shipment(task, repository=repo, clock=lambda: NOW + timedelta(minutes=5))


def registered(customer: str = CUSTOMER, address: dict[str, str] = BERLIN, **at: Any) -> Any:
    return CustomerAddress.model_validate(
        {
            "customer_id": customer,
            "address": address,
            "as_of": at.get("as_of", NOW),
            "event_id": at.get("event_id", "evt-1"),
        }
    )


# ---------------------------------------------------------------- ScheduleShipment


def test_an_order_with_its_own_address_is_scheduled_with_a_carrier_and_an_event(
    repo: FakeShippingRepository,
) -> None:
    # Given no shipment for the order, and the customer registered another address
    repo.addresses[CUSTOMER] = registered(address=BERLIN)

    # When the order with a London address is scheduled
    shipment = schedule(repo, shippingAddress=LONDON)

    # Then it ships to the order's address (not the registered one) with the UK's carrier
    assert shipment.status is ShipmentStatus.SCHEDULED
    assert shipment.address is not None
    assert shipment.address.city == "London"
    assert (shipment.carrier, shipment.tracking_id) == ("UPS", "UPS-ABC123")
    assert [line.model_dump() for line in shipment.lines] == ITEMS
    assert repo.shipments == {ORDER: shipment}
    # and one ShipmentScheduled event carries it
    [event] = repo.events
    assert (event.source, event.detail_type) == ("shop.shipping", "ShipmentScheduled")
    assert event.detail.data.model_dump() == {
        "orderId": ORDER,
        "customerId": CUSTOMER,
        "carrier": "UPS",
        "trackingId": "UPS-ABC123",
        "country": "GB",
    }
    assert event.detail.metadata.correlationId == "corr-1"
    assert ShipmentResult.of(shipment).model_dump() == {
        "orderId": ORDER,
        "status": "SCHEDULED",
        "carrier": "UPS",
        "trackingId": "UPS-ABC123",
        "country": "GB",
    }


def test_an_order_without_an_address_ships_to_the_customers_registered_one(
    repo: FakeShippingRepository,
) -> None:
    repo.addresses[CUSTOMER] = registered(address=BERLIN)

    shipment = schedule(repo)

    assert shipment.address is not None
    assert shipment.address.country == "DE"
    assert shipment.carrier == "DHL"
    assert repo.detail_types() == ["ShipmentScheduled"]


def test_no_address_at_all_is_shipping_unavailable_and_changes_nothing(
    repo: FakeShippingRepository,
) -> None:
    with pytest.raises(ShippingUnavailable) as raised:
        schedule(repo)

    assert raised.value.code == "SHIPPING_UNAVAILABLE"
    assert type(raised.value).__name__ == "ShippingUnavailable"  # the saga matches this name
    assert repo.shipments == {}
    assert repo.events == []


@pytest.mark.parametrize("source", ["order", "registered"])
def test_an_unserved_country_is_shipping_unavailable_and_changes_nothing(
    repo: FakeShippingRepository, source: str
) -> None:
    if source == "registered":
        repo.addresses[CUSTOMER] = registered(address=POLE)
    changes = {"shippingAddress": POLE} if source == "order" else {}

    with pytest.raises(ShippingUnavailable, match="AQ"):
        schedule(repo, **changes)

    assert repo.shipments == {}
    assert repo.events == []


def test_scheduling_twice_returns_the_first_shipment_and_writes_once(
    repo: FakeShippingRepository,
) -> None:
    first = schedule(repo, shippingAddress=LONDON)

    second = schedule(repo, shippingAddress=LONDON)

    assert second == first
    assert repo.detail_types() == ["ShipmentScheduled"]


def test_a_concurrent_duplicate_that_wins_the_race_is_returned_as_is(
    repo: FakeShippingRepository,
) -> None:
    winner = Shipment(
        order_id=ORDER,
        status=ShipmentStatus.SCHEDULED,
        customer_id=CUSTOMER,
        carrier="UPS",
        tracking_id="UPS-WINNER",
        address=None,
        lines=(),
        created_at=NOW,
        updated_at=NOW,
    )
    repo.before_write = lambda: repo.shipments.__setitem__(ORDER, winner)

    assert schedule(repo, shippingAddress=LONDON) == winner
    assert repo.events == []


def test_a_late_schedule_after_the_cancellation_is_refused(repo: FakeShippingRepository) -> None:
    # Given CancelShipment ran before any shipment existed (it left a tombstone)
    tombstone = cancel(repo)
    assert tombstone.is_tombstone

    # When a late ScheduleShipment arrives, Then it refuses and schedules nothing
    with pytest.raises(ShipmentAlreadyCancelled):
        schedule(repo, shippingAddress=LONDON)
    assert repo.shipments == {ORDER: tombstone}
    assert repo.events == []


def test_a_tombstone_written_between_read_and_write_is_refused_too(
    repo: FakeShippingRepository,
) -> None:
    repo.before_write = lambda: repo.shipments.__setitem__(ORDER, Shipment.tombstone(ORDER, NOW))

    with pytest.raises(ShipmentAlreadyCancelled):
        schedule(repo, shippingAddress=LONDON)
    assert repo.events == []


# ---------------------------------------------------------------- CancelShipment


def test_cancelling_a_scheduled_shipment_cancels_it_once_with_an_event(
    repo: FakeShippingRepository,
) -> None:
    scheduled = schedule(repo, shippingAddress=LONDON)

    cancelled = cancel(repo)
    again = cancel(repo)

    assert cancelled.status is ShipmentStatus.CANCELLED
    assert cancelled.tracking_id == scheduled.tracking_id
    assert again == cancelled
    assert repo.shipments[ORDER] == cancelled
    assert repo.detail_types() == ["ShipmentScheduled", "ShipmentCancelled"]
    assert repo.events[1].detail.data.model_dump() == {
        "orderId": ORDER,
        "customerId": CUSTOMER,
        "carrier": "UPS",
        "trackingId": "UPS-ABC123",
    }
    assert repo.events[1].detail.metadata.correlationId == "corr-2"
    assert CancellationResult.of(cancelled).model_dump() == {
        "orderId": ORDER,
        "status": "CANCELLED",
        "trackingId": "UPS-ABC123",
    }


def test_cancelling_without_a_shipment_leaves_a_tombstone_and_no_event(
    repo: FakeShippingRepository,
) -> None:
    tombstone = cancel(repo)
    again = cancel(repo)

    assert tombstone.status is ShipmentStatus.CANCELLED
    assert tombstone.is_tombstone
    assert again == tombstone
    assert repo.shipments == {ORDER: tombstone}
    assert repo.events == []
    assert CancellationResult.of(tombstone).model_dump() == {
        "orderId": ORDER,
        "status": "CANCELLED",
        "trackingId": None,
    }


def test_a_shipment_scheduled_just_before_the_tombstone_is_cancelled_instead(
    repo: FakeShippingRepository,
) -> None:
    # Given ScheduleShipment commits between CancelShipment's read and its tombstone
    repo.before_write = lambda: schedule(repo, shippingAddress=LONDON)

    cancelled = cancel(repo)

    assert cancelled.status is ShipmentStatus.CANCELLED
    assert cancelled.tracking_id == "UPS-ABC123"
    assert repo.detail_types() == ["ShipmentScheduled", "ShipmentCancelled"]


def test_a_concurrent_cancellation_is_not_written_twice(repo: FakeShippingRepository) -> None:
    schedule(repo, shippingAddress=LONDON)
    repo.before_write = lambda: cancel(repo)

    cancelled = cancel(repo)

    assert cancelled.status is ShipmentStatus.CANCELLED
    assert repo.detail_types() == ["ShipmentScheduled", "ShipmentCancelled"]


def test_endless_contention_is_a_transient_error(repo: FakeShippingRepository) -> None:
    class AlwaysContended(FakeShippingRepository):
        def create_tombstone(self, shipment: Shipment) -> None:
            raise ShipmentExists("exists")

    with pytest.raises(ConcurrentModification):
        cancel(AlwaysContended())


# ---------------------------------------------------------------- CustomerRegistered


def bus_event(event_id: str, occurred_at: datetime, address: dict[str, str]) -> BusEvent:
    return BusEvent.model_validate(
        {
            "id": f"bus-{event_id}",
            "source": "shop.customers",
            "detail-type": "CustomerRegistered",
            "detail": {
                "metadata": {
                    "eventId": event_id,
                    "occurredAt": occurred_at.isoformat(),
                    "correlationId": "corr-r",
                    "producer": "customers",
                },
                "data": {
                    "customerId": CUSTOMER,
                    "name": "Ada Lovelace",
                    "emailCiphertext": fake_seal(
                        "ada@example.com", {"customerId": CUSTOMER, "field": "email"}
                    ),
                    "addressCiphertext": fake_seal(
                        json.dumps(address), {"customerId": CUSTOMER, "field": "address"}
                    ),
                },
            },
        }
    )


def test_a_registered_address_is_kept_and_an_older_one_never_overwrites_it(
    repo: FakeShippingRepository,
) -> None:
    newer = bus_event("evt-2", NOW, LONDON)
    older = bus_event("evt-1", NOW - timedelta(hours=1), BERLIN)

    first = logic.record_customer_address(newer, repository=repo, opener=FakeOpener())
    second = logic.record_customer_address(older, repository=repo, opener=FakeOpener())

    assert (first.action, first.eventId) == ("address_saved", "evt-2")
    assert (second.action, second.eventId) == ("stale_address_ignored", "evt-1")
    kept = repo.addresses[CUSTOMER]
    assert (kept.address.city, kept.as_of, kept.event_id) == ("London", NOW, "evt-2")


def test_other_detail_types_are_ignored(repo: FakeShippingRepository) -> None:
    event = bus_event("evt-3", NOW, LONDON).model_copy(update={"detail_type": "OrderPlaced"})

    outcome = logic.record_customer_address(event, repository=repo, opener=FakeOpener())
    assert outcome.action == "ignored"
    assert repo.addresses == {}


def test_an_address_sealed_for_another_order_is_refused_and_nothing_is_scheduled(
    repo: FakeShippingRepository,
) -> None:
    # Given a saga input whose address was sealed for another order (copied from its input)
    task = schedule_input(shippingAddress=LONDON, orderId="other-order").model_copy(
        update={"orderId": ORDER}
    )

    # When ScheduleShipment runs, then the address can't be opened and nothing is scheduled
    with pytest.raises(SealedValueUnreadable):
        logic.schedule_shipment(
            task, repository=repo, opener=FakeOpener(), clock=lambda: NOW, new_id=lambda: "X"
        )
    assert repo.get_shipment(ORDER) is None
