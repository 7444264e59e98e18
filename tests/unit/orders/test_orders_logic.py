"""The order aggregate on in-memory fakes: fold, transitions, reason mapping, concurrency."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from orders.errors import (
    ConcurrentModification,
    CorruptOrderHistory,
    OrderNotFound,
    OrderNotPending,
    VersionTaken,
)
from orders.logic import (
    confirm_order,
    fold,
    get_order,
    reject_order,
    rejection,
    start_order_saga,
)
from orders.models import (
    ConfirmOrderInput,
    OrderEventItem,
    RejectOrderInput,
)
from tests.support.sealing import FakeOpener
from tests.unit.orders.orders_fakes import (
    CUSTOMER,
    ITEMS,
    ORDER_ID,
    OTHER_CUSTOMER,
    T0,
    InMemoryOrderEventStore,
    RecordingSagaStarter,
    TickingClock,
    fake_open,
    fake_seal,
    placed,
)


def confirm_input(total: int = 3470) -> ConfirmOrderInput:
    return ConfirmOrderInput.model_validate(
        {
            "orderId": ORDER_ID,
            "correlationId": "corr-1",
            "reservation": {"lines": [], "totalCents": total, "currency": "EUR"},
            "payment": {"paymentId": "ch_1", "amountCents": total, "currency": "EUR"},
        }
    )


def reject_input(
    error: str = "PaymentDeclined", message: str = "Your card was declined"
) -> RejectOrderInput:
    cause = json.dumps({"errorType": error, "errorMessage": message})
    return RejectOrderInput.model_validate(
        {"orderId": ORDER_ID, "correlationId": "corr-1", "error": {"Error": error, "Cause": cause}}
    )


@pytest.fixture
def store() -> InMemoryOrderEventStore:
    return InMemoryOrderEventStore()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


# ---------------------------------------------------------------- place


def test_placing_writes_order_placed_as_version_1_with_the_sealed_token_beside_the_event(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a customer's valid request / When the order is placed
    order_id = placed(store, clock)

    # Then exactly one event item exists, version 1, and the token is not in the event's detail
    assert order_id == ORDER_ID
    ((key, item),) = store.items.items()
    assert key == (f"ORDER#{ORDER_ID}", "V#000001")
    assert item["detailType"] == "OrderPlaced"
    assert item["source"] == "shop.orders"
    assert item["version"] == 1
    assert item["customerId"] == CUSTOMER
    # the token is sealed for this order (by KMS in the handler), never stored as it is
    assert "paymentToken" not in item
    assert fake_open(item["paymentTokenCiphertext"], ORDER_ID) == "tok_visa"
    assert "tok_visa" not in json.dumps(item)
    assert "expiresAt" not in item  # the event store is kept forever
    detail = json.loads(item["detail"])
    assert "tok_visa" not in item["detail"]
    assert detail["data"] == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "items": ITEMS,
        "shippingAddressCiphertext": None,
    }
    assert detail["metadata"]["correlationId"] == "corr-1"
    assert detail["metadata"]["producer"] == "orders"


def test_an_orders_address_is_in_its_event_only_sealed_for_it_and_its_owner_still_reads_it(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given an order placed with a shipping address of its own
    address = {"line1": "12 Analytical Row", "city": "London", "postalCode": "NW1", "country": "GB"}
    placed(store, clock, shippingAddress=address)

    # Then OrderPlaced (which goes on the bus) carries it sealed for this order only
    ((_, item),) = store.items.items()
    data = json.loads(item["detail"])["data"]
    assert "shippingAddress" not in data
    assert "Analytical" not in item["detail"]
    context = {"orderId": ORDER_ID, "field": "shippingAddress"}
    assert json.loads(FakeOpener().open(data["shippingAddressCiphertext"], context)) == address
    # and the clear address is kept beside the event, so the owner's view shows it
    assert item["shippingAddress"] == address
    view = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=None, store=store)
    assert view.model_dump(mode="json")["shippingAddress"] == {**address, "line2": None}
    # and the saga's input carries only the sealed one
    saga = RecordingSagaStarter()
    start_order_saga(OrderEventItem.model_validate(item), starter=saga)
    started = saga.executions[ORDER_ID]
    assert "Analytical" not in started.model_dump_json()
    assert started.shippingAddressCiphertext == data["shippingAddressCiphertext"]


# ---------------------------------------------------------------- fold


def test_fold_of_no_events_is_no_order() -> None:
    assert fold([]) is None


def test_confirmed_order_has_totals_and_full_history(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a placed order / When it is confirmed
    placed(store, clock)
    confirm_order(confirm_input(), store=store, clock=clock)

    # Then the fold shows CONFIRMED with the totals and both steps of its history
    order = fold(item.recorded() for item in store.history(ORDER_ID))
    assert order is not None
    assert (order.status, order.totalCents, order.currency, order.version) == (
        "CONFIRMED",
        3470,
        "EUR",
        2,
    )
    assert [(h.status, h.at) for h in order.history] == [
        ("PENDING", T0),
        ("CONFIRMED", T0 + timedelta(minutes=1)),
    ]
    assert order.createdAt == T0
    assert order.updatedAt == T0 + timedelta(minutes=1)


def test_a_history_that_does_not_start_with_order_placed_is_corrupt(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a store whose first event is an outcome (version 1 deleted by hand)
    placed(store, clock)
    confirm_order(confirm_input(), store=store, clock=clock)
    del store.items[(f"ORDER#{ORDER_ID}", "V#000001")]

    # When / Then folding it refuses to invent a state
    with pytest.raises(CorruptOrderHistory):
        fold(item.recorded() for item in store.history(ORDER_ID))


# ---------------------------------------------------------------- get


def test_owner_reads_the_order_and_anyone_else_gets_not_found(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a placed order
    placed(store, clock)

    # When the owner reads it, it is PENDING without totals
    view = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=None, store=store)
    body = view.model_dump(mode="json")
    assert body["status"] == "PENDING"
    assert body["totalCents"] is None
    assert body["currency"] is None
    assert "reason" not in body

    # When another customer, or anyone for a missing order, reads it, it is not found
    with pytest.raises(OrderNotFound):
        get_order(ORDER_ID, customer_id=OTHER_CUSTOMER, as_of=None, store=store)
    with pytest.raises(OrderNotFound):
        get_order(
            "00000000-0000-4000-8000-000000000000", customer_id=CUSTOMER, as_of=None, store=store
        )


def test_as_of_folds_only_the_events_up_to_then(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given an order placed at T0 and rejected at T0+1min
    placed(store, clock)
    reject_order(reject_input(), store=store, clock=clock)

    # When read as of T0+30s (naive times are UTC), it is still PENDING
    half_way = (T0 + timedelta(seconds=30)).replace(tzinfo=None)
    then = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=half_way, store=store)
    assert then.status == "PENDING"
    assert [h.status for h in then.history] == ["PENDING"]

    # When read now, it is REJECTED with the reason
    now = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=None, store=store)
    assert (now.status, now.reason) == ("REJECTED", "PAYMENT_DECLINED")
    assert now.model_dump(mode="json")["history"][-1] == {
        "status": "REJECTED",
        "at": "2026-11-25T14:01:00Z",
        "reason": "PAYMENT_DECLINED",
    }

    # When read as of before it existed, it is not found
    with pytest.raises(OrderNotFound):
        get_order(ORDER_ID, customer_id=CUSTOMER, as_of=T0 - timedelta(seconds=1), store=store)


# ---------------------------------------------------------------- confirm / reject


def test_confirming_twice_writes_one_event_and_answers_the_same(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a placed order
    placed(store, clock)

    # When ConfirmOrder runs twice (a retried saga step)
    first = confirm_order(confirm_input(), store=store, clock=clock)
    second = confirm_order(confirm_input(), store=store, clock=clock)

    # Then both answer CONFIRMED and only one OrderConfirmed exists, with the reserved total
    assert first == second
    assert first.model_dump() == {"orderId": ORDER_ID, "status": "CONFIRMED"}
    assert store.detail_types(ORDER_ID) == ["OrderPlaced", "OrderConfirmed"]
    confirmed = json.loads(store.history(ORDER_ID)[1].detail)["data"]
    assert confirmed == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "totalCents": 3470,
        "currency": "EUR",
    }


def test_rejecting_twice_writes_one_event(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    placed(store, clock)

    first = reject_order(reject_input(), store=store, clock=clock)
    second = reject_order(reject_input(), store=store, clock=clock)

    assert first == second
    assert first.status == "REJECTED"
    assert store.detail_types(ORDER_ID) == ["OrderPlaced", "OrderRejected"]
    rejected = json.loads(store.history(ORDER_ID)[1].detail)["data"]
    assert rejected == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "reason": "PAYMENT_DECLINED",
        "message": "Your card was declined",
    }


def test_a_rejected_order_is_not_confirmed_and_a_confirmed_one_not_rejected(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given one rejected order
    placed(store, clock)
    reject_order(reject_input(), store=store, clock=clock)

    # When ConfirmOrder runs for it / Then it is refused and nothing is written
    with pytest.raises(OrderNotPending):
        confirm_order(confirm_input(), store=store, clock=clock)
    assert store.detail_types(ORDER_ID) == ["OrderPlaced", "OrderRejected"]

    # Given a confirmed order / When RejectOrder runs for it / Then it is refused too
    other = InMemoryOrderEventStore()
    placed(other, clock)
    confirm_order(confirm_input(), store=other, clock=clock)
    with pytest.raises(OrderNotPending):
        reject_order(reject_input(), store=other, clock=clock)
    assert other.detail_types(ORDER_ID) == ["OrderPlaced", "OrderConfirmed"]


def test_a_transition_of_a_missing_order_is_not_found(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    with pytest.raises(OrderNotFound):
        confirm_order(confirm_input(), store=store, clock=clock)
    assert store.items == {}


def test_a_lost_race_is_read_again_and_decided_again(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a placed order, and a concurrent RejectOrder that appends version 2 first
    placed(store, clock)

    def concurrent_rejection(_: OrderEventItem) -> None:
        reject_order(reject_input(), store=store, clock=clock)

    store.before_append = concurrent_rejection

    # When RejectOrder's own append loses the race
    result = reject_order(reject_input(), store=store, clock=clock)

    # Then it re-reads, sees REJECTED, and writes nothing more
    assert result.status == "REJECTED"
    assert store.detail_types(ORDER_ID) == ["OrderPlaced", "OrderRejected"]


class AlwaysRacedStore(InMemoryOrderEventStore):
    """Another writer takes every version after the first one just before us."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[int] = []

    def append(self, item: OrderEventItem) -> None:
        if item.version > 1:
            self.attempts.append(item.version)
            raise VersionTaken(item.order_id, item.version)
        super().append(item)


def test_losing_every_race_is_a_transient_error(clock: TickingClock) -> None:
    # Given a store where every append after the first loses the race
    store = AlwaysRacedStore()
    placed(store, clock)

    # When / Then after a few attempts the step gives up with a retryable error
    with pytest.raises(ConcurrentModification):
        confirm_order(confirm_input(), store=store, clock=clock)
    assert store.attempts == [2, 2, 2]
    assert store.detail_types(ORDER_ID) == ["OrderPlaced"]


# ---------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("OutOfStock", "OUT_OF_STOCK"),
        ("PaymentDeclined", "PAYMENT_DECLINED"),
        ("PaymentProviderUnavailable", "PAYMENT_PROVIDER_UNAVAILABLE"),
        ("PaymentProviderCircuitOpen", "PAYMENT_PROVIDER_UNAVAILABLE"),
        ("ShippingUnavailable", "SHIPPING_UNAVAILABLE"),
        ("States.Timeout", "SAGA_FAILED"),
        ("ConcurrentModification", "SAGA_FAILED"),
    ],
)
def test_saga_errors_map_to_the_order_reason(error: str, reason: str) -> None:
    assert rejection(error, json.dumps({"errorMessage": "x"}))[0] == reason


def test_the_message_is_the_business_error_message_trimmed_to_200_characters() -> None:
    cause = json.dumps({"errorType": "OutOfStock", "errorMessage": "  " + "Only 2 left. " * 40})
    reason, message = rejection("OutOfStock", cause)
    assert reason == "OUT_OF_STOCK"
    assert message.startswith("Only 2 left.")
    assert len(message) == 200


def test_internal_errors_and_unreadable_causes_give_a_generic_message() -> None:
    internal = json.dumps({"errorMessage": "KeyError: 'pk' in /var/task/x.py"})
    assert rejection("KeyError", internal) == ("SAGA_FAILED", "The order could not be completed")
    assert rejection("PaymentDeclined", "not json") == (
        "PAYMENT_DECLINED",
        "The order could not be completed",
    )
    assert rejection("PaymentDeclined", None)[1] == "The order could not be completed"


# ---------------------------------------------------------------- saga start


def test_the_saga_starts_once_with_the_contract_input(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given the OrderPlaced item as the stream carries it
    placed(store, clock)
    (item,) = store.history(ORDER_ID)
    starter = RecordingSagaStarter()

    # When the record is delivered twice
    first = start_order_saga(item, starter=starter)
    second = start_order_saga(item, starter=starter)

    # Then one execution, named after the order, with the token and the correlation id
    assert (first, second) == (True, False)
    assert starter.executions[ORDER_ID].model_dump() == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "items": ITEMS,
        "paymentTokenCiphertext": fake_seal("tok_visa", ORDER_ID),  # sealed, never the token
        "shippingAddressCiphertext": None,  # the order named none: shipping uses the registered one
        "correlationId": "corr-1",
    }


def test_an_item_that_is_not_order_placed_does_not_start_a_saga(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    placed(store, clock)
    confirm_order(confirm_input(), store=store, clock=clock)
    starter = RecordingSagaStarter()

    with pytest.raises(CorruptOrderHistory):
        start_order_saga(store.history(ORDER_ID)[1], starter=starter)
    assert starter.executions == {}
