"""GET /orders/{orderId}/details, the composition: in-memory event store, fake owning services,
real circuit breakers on an in-memory store, a real thread pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from orders.details.clients import (
    CUSTOMERS_BREAKER,
    PAYMENTS_BREAKER,
    SHIPPING_BREAKER,
)
from orders.details.errors import (
    CustomersCircuitOpen,
    OwningServiceFailed,
    PaymentsCircuitOpen,
    ShippingCircuitOpen,
)
from orders.details.logic import get_order_details
from orders.details.models import (
    CustomerProfileAnswer,
    CustomerProfileQuery,
    OrderDetails,
    PaymentAnswer,
    PaymentQuery,
    ShipmentAnswer,
    ShipmentQuery,
)
from orders.details.ports import OwningServices, PartBreakers
from orders.errors import OrderNotFound
from orders.logic import confirm_order, place_order
from orders.models import ConfirmOrderInput, PlaceOrder, PlaceOrderRequest
from shop_shared.circuit_breaker import (
    BreakerConfig,
    BreakerRecord,
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
)
from tests.support.sealing import FakeSealer
from tests.unit.orders.orders_fakes import (
    CUSTOMER,
    ORDER_ID,
    OTHER_CUSTOMER,
    InMemoryOrderEventStore,
    TickingClock,
    fake_seal,
)
from tests.unit.shared.breaker_fakes import FakeClock, InMemoryBreakerStore

# A part's breaker opens at >= 50% failed of >= 3 calls within 60 s.
CONFIG = BreakerConfig(
    failure_rate_threshold=0.5,
    minimum_calls=3,
    window_seconds=60,
    cooldown_seconds=30,
    half_open_calls=1,
    cache_ttl_seconds=1,
)
DEADLINE_SECONDS = 0.3
CORRELATION_ID = "req-1"

PROFILE = {
    "customerId": CUSTOMER,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": {
        "line1": "12 Analytical Row",
        "line2": None,
        "city": "London",
        "postalCode": "NW1 6XE",
        "country": "GB",
    },
}
PAYMENT = {"paymentId": "ch_1", "amountCents": 3470, "currency": "EUR", "status": "CHARGED"}
SHIPMENT = {"status": "SCHEDULED", "carrier": "UPS", "trackingId": "1Z999", "country": "GB"}

Behaviour = Callable[[], Any]  # returns the answer's JSON, or raises


def answer(value: dict[str, Any]) -> Behaviour:
    return lambda: value


def failing(error: Exception) -> Behaviour:
    def fail() -> Any:
        raise error

    return fail


class FakeOwningServices(OwningServices):
    """Answers each query as its behaviour says, and records every query it was asked."""

    def __init__(self) -> None:
        self.customer: Behaviour = answer(
            {"customerId": CUSTOMER, "found": True, "profile": PROFILE}
        )
        self.payment_behaviour: Behaviour = answer(
            {"orderId": ORDER_ID, "found": True, "payment": PAYMENT}
        )
        self.shipment_behaviour: Behaviour = answer(
            {"orderId": ORDER_ID, "found": True, "shipment": SHIPMENT}
        )
        self.asked: dict[str, list[Any]] = {"customer": [], "payment": [], "shipment": []}
        self._lock = threading.Lock()

    def _record(self, part: str, query: Any) -> None:
        with self._lock:
            self.asked[part].append(query)

    def customer_profile(self, query: CustomerProfileQuery) -> CustomerProfileAnswer:
        self._record("customer", query)
        return CustomerProfileAnswer.model_validate(self.customer())

    def payment(self, query: PaymentQuery) -> PaymentAnswer:
        self._record("payment", query)
        return PaymentAnswer.model_validate(self.payment_behaviour())

    def shipment(self, query: ShipmentQuery) -> ShipmentAnswer:
        self._record("shipment", query)
        return ShipmentAnswer.model_validate(self.shipment_behaviour())


class World:
    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.store = InMemoryOrderEventStore()
        self.services = FakeOwningServices()
        self.breaker_store = InMemoryBreakerStore()
        self.clock = FakeClock()
        self.executor = executor

        def breaker(name: str, open_error: type[CircuitOpen]) -> CircuitBreaker:
            return CircuitBreaker(
                name,
                store=self.breaker_store,
                config=CONFIG,
                open_error=open_error,
                clock=self.clock,
            )

        self.breakers = PartBreakers(
            customers=breaker(CUSTOMERS_BREAKER, CustomersCircuitOpen),
            payments=breaker(PAYMENTS_BREAKER, PaymentsCircuitOpen),
            shipping=breaker(SHIPPING_BREAKER, ShippingCircuitOpen),
        )

    def given_confirmed_order(self, customer: str = CUSTOMER) -> None:
        clock = TickingClock()
        request = PlaceOrderRequest.model_validate(
            {"items": [{"sku": "ESPRESSO-250G", "quantity": 2}], "paymentToken": "tok_visa"}
        )
        command = PlaceOrder(customerId=customer, correlationId="corr-1", request=request)
        place_order(
            command,
            store=self.store,
            clock=clock,
            new_id=lambda: ORDER_ID,
            seal=fake_seal,
            address_sealer=FakeSealer(),
        )
        task = ConfirmOrderInput.model_validate(
            {
                "orderId": ORDER_ID,
                "reservation": {"totalCents": 3470, "currency": "EUR"},
                "payment": {"paymentId": "ch_1", "amountCents": 3470, "currency": "EUR"},
            }
        )
        confirm_order(task, store=self.store, clock=clock)

    def details(
        self, customer: str = CUSTOMER, deadline_seconds: float = DEADLINE_SECONDS
    ) -> dict[str, Any]:
        details: OrderDetails = get_order_details(
            ORDER_ID,
            customer_id=customer,
            correlation_id=CORRELATION_ID,
            store=self.store,
            services=self.services,
            breakers=self.breakers,
            executor=self.executor,
            deadline_seconds=deadline_seconds,
        )
        return details.model_dump(mode="json")

    def windows(self) -> dict[str, tuple[int, int]]:
        """(calls, failures) each breaker counted in its window."""
        return {
            name: record.window(self.clock.now, CONFIG)
            for name, record in self.breaker_store.records.items()
        }

    def failures(self, breaker: str) -> int:
        record = self.breaker_store.records.get(breaker)
        return 0 if record is None else record.window(self.clock.now, CONFIG)[1]

    def asked(self) -> dict[str, int]:
        return {part: len(queries) for part, queries in self.services.asked.items()}


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=6)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def world(executor: ThreadPoolExecutor) -> World:
    world = World(executor)
    world.given_confirmed_order()
    return world


EXPECTED_ORDER = {
    "orderId": ORDER_ID,
    "customerId": CUSTOMER,
    "status": "CONFIRMED",
    "items": [{"sku": "ESPRESSO-250G", "quantity": 2}],
    "shippingAddress": None,
    "totalCents": 3470,
    "currency": "EUR",
    "history": [
        {"status": "PENDING", "at": "2026-11-25T14:00:00Z"},
        {"status": "CONFIRMED", "at": "2026-11-25T14:01:00Z"},
    ],
    "createdAt": "2026-11-25T14:00:00Z",
    "updatedAt": "2026-11-25T14:01:00Z",
}


# ---------------------------------------------------------------- every part answers


def test_all_parts_answer_and_the_details_compose_them(world: World) -> None:
    # Given a confirmed order whose three services answer
    events_before = dict(world.store.items)

    # When its owner asks for its details
    details = world.details()

    # Then the answer is the order as GET /orders/{id} shows it, plus the three parts
    assert details == {
        "order": EXPECTED_ORDER,
        "customer": PROFILE,
        "payment": PAYMENT,
        "shipment": SHIPMENT,
    }
    # And each service was asked once, for this order's customer / this order, with the request's
    # correlation id
    assert world.services.asked == {
        "customer": [CustomerProfileQuery(customerId=CUSTOMER, correlationId=CORRELATION_ID)],
        "payment": [PaymentQuery(orderId=ORDER_ID, correlationId=CORRELATION_ID)],
        "shipment": [ShipmentQuery(orderId=ORDER_ID, correlationId=CORRELATION_ID)],
    }
    # And the event store is unchanged; each breaker counted one call, none failed
    assert world.store.items == events_before
    assert world.windows() == {
        CUSTOMERS_BREAKER: (1, 0),
        PAYMENTS_BREAKER: (1, 0),
        SHIPPING_BREAKER: (1, 0),
    }


def test_asking_twice_answers_the_same_and_changes_nothing(world: World) -> None:
    # Given the details of a confirmed order, once
    first = world.details()
    events_before = dict(world.store.items)

    # When they are asked for again
    second = world.details()

    # Then the same answer, the event store unchanged, and only the breakers' calls counted
    assert second == first
    assert world.store.items == events_before
    assert world.windows() == {
        CUSTOMERS_BREAKER: (2, 0),
        PAYMENTS_BREAKER: (2, 0),
        SHIPPING_BREAKER: (2, 0),
    }
    assert world.asked() == {"customer": 2, "payment": 2, "shipment": 2}


def test_services_with_nothing_for_the_order_answer_none(world: World) -> None:
    # Given an order with no payment and no shipment yet, by a customer with no profile
    world.services.customer = answer({"customerId": CUSTOMER, "found": False, "profile": None})
    world.services.payment_behaviour = answer({"orderId": ORDER_ID, "found": False})
    world.services.shipment_behaviour = answer(
        {"orderId": ORDER_ID, "found": False, "shipment": None}
    )

    # When its details are asked for
    details = world.details()

    # Then each part says "none": its service answered, there is nothing, nothing failed
    assert details["order"] == EXPECTED_ORDER
    assert (details["customer"], details["payment"], details["shipment"]) == (
        {"status": "none"},
        {"status": "none"},
        {"status": "none"},
    )
    assert world.windows() == {
        CUSTOMERS_BREAKER: (1, 0),
        PAYMENTS_BREAKER: (1, 0),
        SHIPPING_BREAKER: (1, 0),
    }


def test_a_refunded_payment_and_a_cancelled_shipment_are_shown_as_they_are(world: World) -> None:
    # Given a cancelled order's payment (refunded) and shipment (cancelled)
    refunded = {**PAYMENT, "status": "REFUNDED"}
    cancelled = {**SHIPMENT, "status": "CANCELLED"}
    world.services.payment_behaviour = answer(
        {"orderId": ORDER_ID, "found": True, "payment": refunded}
    )
    world.services.shipment_behaviour = answer(
        {"orderId": ORDER_ID, "found": True, "shipment": cancelled}
    )

    # When its details are asked for; Then they show both
    details = world.details()
    assert (details["payment"], details["shipment"]) == (refunded, cancelled)


# ---------------------------------------------------------------- one part fails


def test_a_part_whose_service_fails_is_unavailable_and_the_others_stand(world: World) -> None:
    # Given the payments service's query function fails
    world.services.payment_behaviour = failing(
        OwningServiceFailed("GetPaymentFunction failed: ResourceNotFoundException")
    )

    # When the order's details are asked for
    details = world.details()

    # Then the payment is unavailable; the order, the customer and the shipment are intact
    assert details == {
        "order": EXPECTED_ORDER,
        "customer": PROFILE,
        "payment": {"status": "unavailable"},
        "shipment": SHIPMENT,
    }
    # And the payments breaker counted the failure; the others saw none
    assert world.failures(PAYMENTS_BREAKER) == 1
    assert world.failures(CUSTOMERS_BREAKER) == 0
    assert world.failures(SHIPPING_BREAKER) == 0


def test_an_unexpected_error_in_a_part_is_unavailable_too(world: World) -> None:
    # Given the customers service answers something that breaks the fake (a bug, not a timeout)
    world.services.customer = failing(KeyError("profile"))

    # When the order's details are asked for
    details = world.details()

    # Then the customer is unavailable, the rest intact; a bug is not a transient failure, so
    # the breaker does not count it as a failure
    assert details["customer"] == {"status": "unavailable"}
    assert (details["payment"], details["shipment"]) == (PAYMENT, SHIPMENT)
    assert world.failures(CUSTOMERS_BREAKER) == 0


def test_an_answer_about_another_order_is_unavailable_and_counts_as_a_failure(
    world: World,
) -> None:
    # Given the shipping service answers about another order
    world.services.shipment_behaviour = answer(
        {"orderId": "00000000-0000-4000-8000-000000000000", "found": True, "shipment": SHIPMENT}
    )

    # When the order's details are asked for
    details = world.details()

    # Then that shipment is not shown as this order's
    assert details["shipment"] == {"status": "unavailable"}
    assert (details["customer"], details["payment"]) == (PROFILE, PAYMENT)
    assert world.failures(SHIPPING_BREAKER) == 1


def test_a_part_whose_call_times_out_is_unavailable(world: World) -> None:
    # Given the Lambda Invoke of the shipping service times out (botocore's read timeout)
    world.services.shipment_behaviour = failing(
        ReadTimeoutError(endpoint_url="http://lambda/2015-03-31/functions/GetShipmentFunction")
    )

    # When the order's details are asked for
    details = world.details()

    # Then the shipment is unavailable, the rest intact, and the timeout counted as a failure
    assert details["shipment"] == {"status": "unavailable"}
    assert (details["customer"], details["payment"]) == (PROFILE, PAYMENT)
    assert world.failures(SHIPPING_BREAKER) == 1


def test_a_part_that_outlives_the_deadline_does_not_hold_the_answer(world: World) -> None:
    # Given the customers service hangs (longer than any call's timeout would allow)
    release = threading.Event()

    def hang() -> Any:
        release.wait(timeout=10)
        return {"customerId": CUSTOMER, "found": True, "profile": PROFILE}

    world.services.customer = hang
    try:
        # When the order's details are asked for
        started = time.monotonic()
        details = world.details(deadline_seconds=0.3)
        took = time.monotonic() - started
    finally:
        release.set()

    # Then the answer comes at the deadline, with the customer unavailable and the rest intact
    assert 0.3 <= took < 2.0
    assert details["customer"] == {"status": "unavailable"}
    assert (details["payment"], details["shipment"]) == (PAYMENT, SHIPMENT)


# ---------------------------------------------------------------- the breakers


def test_an_open_breaker_answers_unavailable_without_calling_the_service(world: World) -> None:
    # Given the shipping breaker was opened a moment ago (by failures in another environment)
    world.breaker_store.records[SHIPPING_BREAKER] = BreakerRecord(
        state=CircuitState.OPEN, opened_at=world.clock.now - 1, version=1
    )

    # When the order's details are asked for
    details = world.details()

    # Then the shipment is unavailable and the shipping service was not called at all
    assert details["shipment"] == {"status": "unavailable"}
    assert world.services.asked["shipment"] == []
    # And the other parts were asked and shown
    assert (details["customer"], details["payment"]) == (PROFILE, PAYMENT)
    assert world.asked() == {"customer": 1, "payment": 1, "shipment": 0}
    # And the breaker is still open, unchanged
    assert world.breaker_store.records[SHIPPING_BREAKER].state is CircuitState.OPEN
    assert world.breaker_store.records[SHIPPING_BREAKER].version == 1


def test_repeated_failures_open_the_breaker_and_then_the_service_is_left_alone(
    world: World,
) -> None:
    # Given the payments service fails every time
    world.services.payment_behaviour = failing(OwningServiceFailed("GetPayment failed"))

    # When the details are asked for as many times as the threshold, then twice more
    for _ in range(CONFIG.minimum_calls + 2):
        assert world.details()["payment"] == {"status": "unavailable"}

    # Then the breaker opened at the threshold, and the two later requests did not call payments
    assert world.breaker_store.records[PAYMENTS_BREAKER].state is CircuitState.OPEN
    assert world.asked() == {
        "customer": CONFIG.minimum_calls + 2,
        "payment": CONFIG.minimum_calls,
        "shipment": CONFIG.minimum_calls + 2,
    }

    # And after the cool-down, one probe that succeeds closes it and the payment is back
    world.services.payment_behaviour = answer(
        {"orderId": ORDER_ID, "found": True, "payment": PAYMENT}
    )
    world.clock.advance(CONFIG.cooldown_seconds + 1)
    assert world.details()["payment"] == PAYMENT
    assert world.breaker_store.records[PAYMENTS_BREAKER].state is CircuitState.CLOSED


# ---------------------------------------------------------------- no order, no details


def test_a_missing_order_is_not_found_and_no_service_is_asked(executor: ThreadPoolExecutor) -> None:
    # Given no order at all
    world = World(executor)

    # When its details are asked for; Then 404, never a partial answer
    with pytest.raises(OrderNotFound):
        world.details()
    assert world.asked() == {"customer": 0, "payment": 0, "shipment": 0}
    assert world.store.items == {}


def test_another_customers_order_is_not_found_and_no_service_is_asked(world: World) -> None:
    # Given an order of CUSTOMER; When OTHER_CUSTOMER asks for its details
    with pytest.raises(OrderNotFound) as raised:
        world.details(customer=OTHER_CUSTOMER)

    # Then 404 exactly as for a missing order, and nobody's payment or shipment was fetched
    assert (raised.value.http_status, raised.value.code) == (404, "NOT_FOUND")
    assert world.asked() == {"customer": 0, "payment": 0, "shipment": 0}
