"""The order after confirmation, on in-memory fakes: cancellation, NEEDS_ATTENTION, the
cancellation workflow's start, and the history they leave."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders.errors import (
    CorruptOrderHistory,
    OrderNotCancellable,
    OrderNotCancelling,
    OrderNotFound,
    OrderNotPending,
)
from orders.logic import (
    confirm_order,
    get_order,
    load,
    mark_order_cancelled,
    mark_order_needs_attention,
    reject_order,
    request_cancellation,
    start_order_cancellation,
)
from orders.models import (
    CancellationInput,
    ConfirmOrderInput,
    MarkOrderCancelledInput,
    MarkOrderNeedsAttentionInput,
    OrderEventItem,
    RejectOrderInput,
)
from orders.repository import CancellationStarter
from tests.unit.orders.orders_fakes import (
    CUSTOMER,
    ORDER_ID,
    OTHER_CUSTOMER,
    InMemoryOrderEventStore,
    TickingClock,
    placed,
)

REFUND_FAILED = {
    "Error": "PaymentProviderUnavailable",
    "Cause": json.dumps(
        {"errorType": "PaymentProviderUnavailable", "errorMessage": "The refund could not be made"}
    ),
}


class RecordingCancellationStarter(CancellationStarter):
    """Starts each execution name once, like Step Functions (a second start is refused)."""

    def __init__(self) -> None:
        self.executions: dict[str, CancellationInput] = {}

    def start(self, cancellation: CancellationInput) -> bool:
        if cancellation.execution_name in self.executions:
            return False
        self.executions[cancellation.execution_name] = cancellation
        return True


@pytest.fixture
def store() -> InMemoryOrderEventStore:
    return InMemoryOrderEventStore()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


def confirmed(store: InMemoryOrderEventStore, clock: TickingClock) -> None:
    placed(store, clock)
    task = ConfirmOrderInput.model_validate(
        {
            "orderId": ORDER_ID,
            "reservation": {"totalCents": 3470, "currency": "EUR"},
            "payment": {"paymentId": "ch_1", "amountCents": 3470, "currency": "EUR"},
        }
    )
    confirm_order(task, store=store, clock=clock)


def rejected(store: InMemoryOrderEventStore, clock: TickingClock) -> None:
    placed(store, clock)
    task = RejectOrderInput.model_validate(
        {"orderId": ORDER_ID, "error": {"Error": "OutOfStock", "Cause": None}}
    )
    reject_order(task, store=store, clock=clock)


def cancel(store: InMemoryOrderEventStore, clock: TickingClock, customer: str = CUSTOMER) -> Any:
    return request_cancellation(
        ORDER_ID, customer_id=customer, correlation_id="req-cancel", store=store, clock=clock
    )


def needs_attention(
    store: InMemoryOrderEventStore, clock: TickingClock, **errors: dict[str, Any]
) -> Any:
    task = MarkOrderNeedsAttentionInput.model_validate(
        {
            "orderId": ORDER_ID,
            "customerId": CUSTOMER,
            "correlationId": "corr-1",
            "compensationErrors": errors or {"RefundPayment": REFUND_FAILED},
        }
    )
    return mark_order_needs_attention(task, store=store, clock=clock)


def status(store: InMemoryOrderEventStore) -> str:
    order = load(store, ORDER_ID)
    assert order is not None
    return order.status


# ---------------------------------------------------------------- cancellation


def test_the_owner_cancels_a_confirmed_order_and_it_is_cancelling(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a confirmed order
    confirmed(store, clock)

    # When its owner cancels it
    accepted = cancel(store, clock)

    # Then it is CANCELLING, with OrderCancellationRequested as version 3
    assert accepted.model_dump() == {"orderId": ORDER_ID, "status": "CANCELLING"}
    assert store.detail_types(ORDER_ID) == [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderCancellationRequested",
    ]
    item = store.history(ORDER_ID)[-1]
    assert (item.version, item.customerId) == (3, CUSTOMER)
    detail = json.loads(item.detail)
    assert detail["data"] == {"orderId": ORDER_ID, "customerId": CUSTOMER}
    assert detail["metadata"]["correlationId"] == "req-cancel"
    view = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=None, store=store)
    assert view.status == "CANCELLING"
    assert view.totalCents == 3470  # still the confirmed total
    assert [h.status for h in view.history] == ["PENDING", "CONFIRMED", "CANCELLING"]


def test_a_second_cancel_while_one_runs_is_refused(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    cancel(store, clock)

    with pytest.raises(OrderNotCancellable) as raised:
        cancel(store, clock)

    assert raised.value.code == "ORDER_NOT_CANCELLABLE"
    assert raised.value.http_status == 409
    assert store.detail_types(ORDER_ID)[-1] == "OrderCancellationRequested"
    assert len(store.history(ORDER_ID)) == 3


@pytest.mark.parametrize("given", ["pending", "rejected", "cancelled", "needs attention"])
def test_only_a_confirmed_order_can_be_cancelled(
    store: InMemoryOrderEventStore, clock: TickingClock, given: str
) -> None:
    if given == "pending":
        placed(store, clock)
    elif given == "rejected":
        rejected(store, clock)
    elif given == "cancelled":
        confirmed(store, clock)
        cancel(store, clock)
        mark_order_cancelled(MarkOrderCancelledInput(orderId=ORDER_ID), store=store, clock=clock)
    else:
        placed(store, clock)
        needs_attention(store, clock)
    before = dict(store.items)

    with pytest.raises(OrderNotCancellable):
        cancel(store, clock)

    assert store.items == before


def test_another_customers_order_or_none_at_all_is_not_found(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    before = dict(store.items)

    with pytest.raises(OrderNotFound):
        cancel(store, clock, customer=OTHER_CUSTOMER)
    with pytest.raises(OrderNotFound):
        request_cancellation(
            "0d8e3a4c-1b2f-4a5e-9c6d-7e8f9a0b1c2d",
            customer_id=CUSTOMER,
            correlation_id="req",
            store=store,
            clock=clock,
        )
    assert store.items == before


def test_marking_cancelled_twice_writes_one_event(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    cancel(store, clock)
    task = MarkOrderCancelledInput(orderId=ORDER_ID, correlationId="corr-c")

    first = mark_order_cancelled(task, store=store, clock=clock)
    second = mark_order_cancelled(task, store=store, clock=clock)

    assert first.model_dump() == second.model_dump() == {"orderId": ORDER_ID, "status": "CANCELLED"}
    assert store.detail_types(ORDER_ID)[2:] == ["OrderCancellationRequested", "OrderCancelled"]
    assert [h.status for h in load(store, ORDER_ID).history] == [  # type: ignore[union-attr]
        "PENDING",
        "CONFIRMED",
        "CANCELLING",
        "CANCELLED",
    ]


def test_an_order_whose_cancellation_was_not_requested_is_not_marked_cancelled(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)

    with pytest.raises(OrderNotCancelling):
        mark_order_cancelled(MarkOrderCancelledInput(orderId=ORDER_ID), store=store, clock=clock)
    assert status(store) == "CONFIRMED"


def test_a_cancelling_order_is_neither_confirmed_nor_rejected_again(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    cancel(store, clock)
    task = RejectOrderInput.model_validate(
        {"orderId": ORDER_ID, "error": {"Error": "OutOfStock", "Cause": None}}
    )

    with pytest.raises(OrderNotPending):
        reject_order(task, store=store, clock=clock)
    assert status(store) == "CANCELLING"


# ---------------------------------------------------------------- NEEDS_ATTENTION


@pytest.mark.parametrize("given", ["pending", "cancelling", "confirmed"])
def test_a_failed_compensation_makes_the_order_need_attention_once(
    store: InMemoryOrderEventStore, clock: TickingClock, given: str
) -> None:
    # Given an order in the saga, in its cancellation, or confirmed (a lost confirmation reply)
    if given == "pending":
        placed(store, clock)
    else:
        confirmed(store, clock)
        if given == "cancelling":
            cancel(store, clock)
    versions = len(store.history(ORDER_ID))

    # When MarkOrderNeedsAttention runs twice
    first = needs_attention(store, clock)
    second = needs_attention(store, clock)

    # Then one OrderNeedsAttention names the failed step and the error, for the operator
    assert first.status == second.status == "NEEDS_ATTENTION"
    history = store.history(ORDER_ID)
    assert len(history) == versions + 1
    assert history[-1].detailType == "OrderNeedsAttention"
    assert json.loads(history[-1].detail)["data"] == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "failedStep": "RefundPayment",
        "error": "PaymentProviderUnavailable",
        "message": "The refund could not be made",
        "failedSteps": ["RefundPayment"],
    }
    assert status(store) == "NEEDS_ATTENTION"


def test_several_failed_steps_are_listed_in_the_order_they_ran(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    placed(store, clock)

    needs_attention(
        store,
        clock,
        CancelShipment={"Error": "States.Timeout", "Cause": None},
        RefundPayment=REFUND_FAILED,
    )

    data = json.loads(store.history(ORDER_ID)[-1].detail)["data"]
    assert (data["failedStep"], data["error"], data["message"]) == (
        "CancelShipment",
        "States.Timeout",
        "States.Timeout",  # no errorMessage in the cause: the error's name
    )
    assert data["failedSteps"] == ["CancelShipment", "RefundPayment"]


def test_needs_attention_needs_a_failed_step() -> None:
    with pytest.raises(ValueError, match="compensationErrors"):
        MarkOrderNeedsAttentionInput.model_validate(
            {"orderId": ORDER_ID, "customerId": CUSTOMER, "compensationErrors": {}}
        )


def test_nothing_follows_needs_attention_in_a_history(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    # Given a history where OrderConfirmed was appended after OrderNeedsAttention
    placed(store, clock)
    needs_attention(store, clock)
    confirmed_after = OrderEventItem.model_validate(
        {
            **store.history(ORDER_ID)[-1].to_item(),
            "sk": "V#000003",
            "version": 3,
            "eventId": "evt-late",
            "detailType": "OrderConfirmed",
            "detail": json.dumps(
                {
                    "metadata": {
                        "eventId": "evt-late",
                        "occurredAt": "2026-11-25T15:00:00Z",
                        "correlationId": "c",
                        "producer": "orders",
                    },
                    "data": {
                        "orderId": ORDER_ID,
                        "customerId": CUSTOMER,
                        "totalCents": 1,
                        "currency": "EUR",
                    },
                }
            ),
        }
    )
    store.items[(confirmed_after.pk, confirmed_after.sk)] = confirmed_after.to_item()

    with pytest.raises(CorruptOrderHistory, match="OrderConfirmed can't follow NEEDS_ATTENTION"):
        load(store, ORDER_ID)


# ---------------------------------------------------------------- cancellation start


def test_the_cancellation_starts_once_named_after_the_order(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    cancel(store, clock)
    requested = store.history(ORDER_ID)[-1]
    starter = RecordingCancellationStarter()

    first = start_order_cancellation(requested, starter=starter)
    second = start_order_cancellation(requested, starter=starter)

    assert (first, second) == (True, False)
    assert starter.executions[f"cancel-{ORDER_ID}"].model_dump() == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "correlationId": "req-cancel",
    }


def test_an_item_that_is_not_a_cancellation_request_starts_nothing(
    store: InMemoryOrderEventStore, clock: TickingClock
) -> None:
    confirmed(store, clock)
    starter = RecordingCancellationStarter()

    with pytest.raises(CorruptOrderHistory):
        start_order_cancellation(store.history(ORDER_ID)[-1], starter=starter)
    assert starter.executions == {}
