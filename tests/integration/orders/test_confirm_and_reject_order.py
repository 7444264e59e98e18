"""ConfirmOrder and RejectOrder saga tasks in-process on moto: one event each, idempotent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from orders.errors import OrderNotFound, OrderNotPending
from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    SAMPLE_ORDER_ID,
    all_items,
    given_placed,
    load_handler,
    order_items,
    sample_event,
)
from tests.support.lambda_context import FakeLambdaContext

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture
def table(make_table: Any) -> Any:
    return make_table("OrdersTable")


@pytest.fixture
def store(table: Any) -> DynamoDBOrderEventStore:
    return DynamoDBOrderEventStore("OrdersTable", table=table)


@pytest.fixture
def confirm_order(monkeypatch: pytest.MonkeyPatch, table: Any) -> ModuleType:
    return load_handler(monkeypatch, "confirm_order", ORDERS_TABLE_NAME="OrdersTable")


@pytest.fixture
def reject_order(monkeypatch: pytest.MonkeyPatch, table: Any) -> ModuleType:
    return load_handler(monkeypatch, "reject_order", ORDERS_TABLE_NAME="OrdersTable")


def invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = module.handler(event, FakeLambdaContext())
    return result


def events_of(table: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (item["detailType"], json.loads(item["detail"])["data"])
        for item in order_items(table, SAMPLE_ORDER_ID)
    ]


def test_confirm_appends_order_confirmed_once(
    confirm_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a PENDING order
    given_placed(store, T0)

    # When the saga's ConfirmOrder (the sample state) runs twice
    first = invoke(confirm_order, sample_event("confirm_order"))
    second = invoke(confirm_order, sample_event("confirm_order"))

    # Then both answer CONFIRMED and exactly one OrderConfirmed was appended as version 2
    assert first == second == {"orderId": SAMPLE_ORDER_ID, "status": "CONFIRMED"}
    assert events_of(table)[1:] == [
        (
            "OrderConfirmed",
            {
                "orderId": SAMPLE_ORDER_ID,
                "customerId": CUSTOMER,
                "totalCents": 3470,
                "currency": "EUR",
            },
        )
    ]
    confirmed = order_items(table, SAMPLE_ORDER_ID)[1]
    assert (confirmed["sk"], confirmed["version"], confirmed["customerId"]) == (
        "V#000002",
        2,
        CUSTOMER,
    )
    assert "paymentToken" not in confirmed
    correlation = sample_event("confirm_order")["correlationId"]
    assert json.loads(confirmed["detail"])["metadata"]["correlationId"] == correlation


def test_reject_maps_the_error_to_the_reason_and_appends_once(
    reject_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a PENDING order whose payment was declined (the sample state)
    given_placed(store, T0)

    # When RejectOrder runs twice
    first = invoke(reject_order, sample_event("reject_order"))
    second = invoke(reject_order, sample_event("reject_order"))

    # Then one OrderRejected with the mapped reason and the function's message
    assert first == second == {"orderId": SAMPLE_ORDER_ID, "status": "REJECTED"}
    assert events_of(table)[1:] == [
        (
            "OrderRejected",
            {
                "orderId": SAMPLE_ORDER_ID,
                "customerId": CUSTOMER,
                "reason": "PAYMENT_DECLINED",
                "message": "Your card was declined",
            },
        )
    ]


def test_an_internal_error_rejects_with_saga_failed_and_a_generic_message(
    reject_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    given_placed(store, T0)
    state = copy.deepcopy(sample_event("reject_order"))
    state["error"] = {
        "Error": "States.Timeout",
        "Cause": json.dumps({"errorMessage": "Task timed out after 10.00 seconds"}),
    }

    invoke(reject_order, state)

    ((_, rejected),) = events_of(table)[1:]
    assert (rejected["reason"], rejected["message"]) == (
        "SAGA_FAILED",
        "The order could not be completed",
    )


def test_a_rejected_order_cannot_be_confirmed(
    confirm_order: ModuleType, reject_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a rejected order
    given_placed(store, T0)
    invoke(reject_order, sample_event("reject_order"))

    # When ConfirmOrder runs for it / Then it fails with OrderNotPending, nothing is written
    with pytest.raises(OrderNotPending):
        invoke(confirm_order, sample_event("confirm_order"))
    assert [detail_type for detail_type, _ in events_of(table)] == ["OrderPlaced", "OrderRejected"]


def test_a_missing_order_or_a_malformed_state_fails_and_writes_nothing(
    confirm_order: ModuleType, table: Any
) -> None:
    # Given no order at all
    # When ConfirmOrder runs / Then the order is not found
    with pytest.raises(OrderNotFound):
        invoke(confirm_order, sample_event("confirm_order"))

    # When the state lacks the payment / Then the input is refused before anything is read
    state = copy.deepcopy(sample_event("confirm_order"))
    del state["payment"]
    with pytest.raises(ValidationError):
        invoke(confirm_order, state)
    assert all_items(table) == []
