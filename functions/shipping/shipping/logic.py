"""Shipping business logic: plain functions on models; repository, clock and ids passed in.

Idempotency of the saga steps, keyed on the order id:

- ScheduleShipment returns an existing SCHEDULED shipment as it is (also when a concurrent
  duplicate created it first), so an order is shipped once, with one tracking id.
- CancelShipment cancels a SCHEDULED shipment once; a CANCELLED one is left alone. When there
  is no shipment at all (ScheduleShipment failed, timed out before running, or is still in
  flight), it writes a CANCELLED tombstone, so a late duplicate ScheduleShipment can't ship an
  order whose saga was undone: ScheduleShipment raises `ShipmentAlreadyCancelled` for it.

Where the address comes from: the order's own shippingAddress, else the address the customer
registered (kept from CustomerRegistered events by `record_customer_address`). No address at
all, or a country we don't serve, is `ShippingUnavailable`: a business outcome, not retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shipping.errors import (
    ConcurrentModification,
    ShipmentAlreadyCancelled,
    ShipmentExists,
    ShipmentNotScheduled,
    ShippingUnavailable,
)
from shipping.events import PRODUCER, SOURCE, ShipmentCancelled, ShipmentScheduled
from shipping.models import (
    Address,
    CustomerAddress,
    CustomerRegistered,
    RecordOutcome,
    Shipment,
    ShipmentAnswer,
    ShipmentStatus,
)
from shop_shared.events import DomainEvent, new_event, parse_detail
from shop_shared.observability import logger

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shipping.models import (
        CancelShipmentInput,
        GetShipmentInput,
        ScheduleShipmentInput,
    )
    from shipping.repository import ShippingRepository
    from shop_shared.bus import BusEvent
    from shop_shared.sealing import Opener

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]

MAX_ATTEMPTS = 3
# Countries no carrier of ours delivers to (ISO 3166-1 alpha-2).
UNSERVED_COUNTRIES = frozenset({"AQ"})
# Which carrier takes a parcel: by destination; anything not listed goes with the default.
CARRIERS = {country: "DHL" for country in ("AT", "BE", "CH", "DE", "DK", "FR", "LU", "NL", "PL")}
DEFAULT_CARRIER = "UPS"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_tracking_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def carrier_for(country: str) -> str:
    return CARRIERS.get(country, DEFAULT_CARRIER)


# ---------------------------------------------------------------- ScheduleShipment


def schedule_shipment(
    task: ScheduleShipmentInput,
    *,
    repository: ShippingRepository,
    opener: Opener,
    clock: Clock,
    new_id: IdFactory,
) -> Shipment:
    """Schedule the order's shipment once, with a carrier and a tracking id.

    Raises ShippingUnavailable (no address, or a country we don't serve) or
    ShipmentAlreadyCancelled for a late duplicate after CancelShipment.

    The shipment's write is conditional on the order having none, so the write itself is what
    makes a repeated call change nothing: the shipment is not read before it. When the step
    does not schedule (its write found one, or anything failed on the way), the order's
    shipment is read and, if there is one, answered as it is, as a read before the write would
    have: a retry returns the first shipment and tracking id (ShipmentAlreadyCancelled after a
    cancellation), whatever the address says now.
    """
    try:
        shipment, event = _new_shipment(
            task, repository=repository, opener=opener, clock=clock, new_id=new_id
        )
        repository.create_shipment(shipment, event)
    except Exception as error:
        # A concurrent duplicate may have won the race, CancelShipment may have left a
        # tombstone, or this is a retry of a step that scheduled already.
        existing = repository.get_shipment(task.orderId)
        if existing is not None:
            return _scheduled_as_is(existing)
        if isinstance(error, ShipmentExists):
            raise ConcurrentModification(
                f"The shipment of order {task.orderId} vanished", order_id=task.orderId
            ) from None
        raise
    logger.info(
        "shipment scheduled",
        extra={
            "order_id": task.orderId,
            "carrier": shipment.carrier,
            "country": event.detail.data.country,
        },
    )
    return shipment


def _new_shipment(
    task: ScheduleShipmentInput,
    *,
    repository: ShippingRepository,
    opener: Opener,
    clock: Clock,
    new_id: IdFactory,
) -> tuple[Shipment, DomainEvent[ShipmentScheduled]]:
    """The order's shipment to its destination and its ShipmentScheduled event, not yet
    written; ShippingUnavailable for no address or a country we don't serve."""
    address = _destination(task, repository, opener)
    if address.country in UNSERVED_COUNTRIES:
        raise ShippingUnavailable(
            f"We can't ship to {address.country}", order_id=task.orderId, country=address.country
        )
    now = clock()
    carrier = carrier_for(address.country)
    tracking_id = f"{carrier}-{new_id()}"
    shipment = Shipment(
        order_id=task.orderId,
        status=ShipmentStatus.SCHEDULED,
        customer_id=task.customerId,
        carrier=carrier,
        tracking_id=tracking_id,
        address=address,
        lines=tuple(task.items),
        created_at=now,
        updated_at=now,
    )
    event = new_event(
        source=SOURCE,
        detail_type="ShipmentScheduled",
        data=ShipmentScheduled(
            orderId=task.orderId,
            customerId=task.customerId,
            carrier=carrier,
            trackingId=tracking_id,
            country=address.country,
        ),
        correlation_id=task.correlation_id,
        producer=PRODUCER,
        occurred_at=now,
    )
    return shipment, event


def _destination(
    task: ScheduleShipmentInput, repository: ShippingRepository, opener: Opener
) -> Address:
    if task.shippingAddressCiphertext is not None:
        return Address.model_validate_json(
            opener.open(task.shippingAddressCiphertext, task.address_context())
        )
    registered = repository.get_address(task.customerId)
    if registered is None:
        raise ShippingUnavailable(
            "The order has no shipping address and the customer has registered none",
            order_id=task.orderId,
        )
    return registered.address


def _scheduled_as_is(shipment: Shipment) -> Shipment:
    if shipment.status is ShipmentStatus.CANCELLED:
        raise ShipmentAlreadyCancelled(
            f"The shipment of order {shipment.order_id} was cancelled; it is not scheduled again",
            order_id=shipment.order_id,
        )
    logger.info("shipment already scheduled", extra={"order_id": shipment.order_id})
    return shipment


# ---------------------------------------------------------------- CancelShipment


def cancel_shipment(
    task: CancelShipmentInput, *, repository: ShippingRepository, clock: Clock
) -> Shipment:
    """Cancel the order's shipment once; leaves a tombstone when none was scheduled."""
    for _ in range(MAX_ATTEMPTS):
        now = clock()
        current = repository.get_shipment(task.orderId)
        if current is None:
            tombstone = Shipment.tombstone(task.orderId, now)
            try:
                repository.create_tombstone(tombstone)
            except ShipmentExists:
                continue  # ScheduleShipment got there first: cancel what it scheduled
            logger.info("no shipment to cancel: tombstone left", extra={"order_id": task.orderId})
            return tombstone
        if current.status is ShipmentStatus.CANCELLED:
            return current
        cancelled = current.cancelled(now)
        event = _event(
            "ShipmentCancelled",
            ShipmentCancelled(
                orderId=cancelled.order_id,
                customerId=cancelled.customer_id or "",
                carrier=cancelled.carrier or "",
                trackingId=cancelled.tracking_id or "",
            ),
            task.correlation_id,
            now,
        )
        try:
            repository.cancel_shipment(cancelled, event)
        except ShipmentNotScheduled:
            continue  # a concurrent cancellation won: read what it left
        logger.info("shipment cancelled", extra={"order_id": task.orderId})
        return cancelled
    raise ConcurrentModification(
        f"The shipment of order {task.orderId} is being changed concurrently",
        order_id=task.orderId,
    )


# ---------------------------------------------------------------- GetShipment (internal query)


def find_shipment(query: GetShipmentInput, *, repository: ShippingRepository) -> ShipmentAnswer:
    """Another service asks for an order's shipment: it, or found=false (an answer, not an
    error: an order not shipped yet, or rejected, has none). Reads only."""
    return ShipmentAnswer.of(query.orderId, repository.get_shipment(query.orderId))


# ---------------------------------------------------------------- CustomerRegistered


def record_customer_address(
    event: BusEvent, *, repository: ShippingRepository, opener: Opener
) -> RecordOutcome:
    """Keep the customer's registered address (opened from the event's sealed one); an older
    event never overwrites a newer one."""
    if event.detail_type != "CustomerRegistered":
        return RecordOutcome(action="ignored")
    registered = parse_detail(event.detail, CustomerRegistered)
    sealed = registered.data
    saved = repository.save_address(
        CustomerAddress(
            customer_id=sealed.customerId,
            address=Address.model_validate_json(
                opener.open(sealed.addressCiphertext, sealed.address_context())
            ),
            as_of=registered.metadata.occurredAt,
            event_id=registered.metadata.eventId,
        )
    )
    action = "address_saved" if saved else "stale_address_ignored"
    return RecordOutcome(action=action, eventId=registered.metadata.eventId)


def _event(
    detail_type: str, data: BaseModel, correlation_id: str, occurred_at: datetime
) -> DomainEvent[BaseModel]:
    return new_event(
        source=SOURCE,
        detail_type=detail_type,
        data=data,
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=occurred_at,
    )
