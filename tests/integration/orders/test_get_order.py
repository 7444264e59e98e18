"""GET /v1/orders/{orderId} in-process on moto: owner only, asOf, 400 for bad ids and times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from orders.logic import reject_order
from orders.models import RejectOrderInput
from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    SAMPLE_ITEMS,
    all_items,
    api_event,
    body_of,
    given_confirmed,
    given_placed,
    load_handler,
    sample_event,
)
from tests.support.lambda_context import FakeLambdaContext

ORDER_ID = sample_event("get_order")["pathParameters"]["orderId"]
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture
def table(make_table: Any) -> Any:
    return make_table("OrdersTable")


@pytest.fixture
def store(table: Any) -> DynamoDBOrderEventStore:
    return DynamoDBOrderEventStore("OrdersTable", table=table)


@pytest.fixture
def get_order(monkeypatch: pytest.MonkeyPatch, store: DynamoDBOrderEventStore) -> ModuleType:
    return load_handler(monkeypatch, "get_order", ORDERS_TABLE_NAME="OrdersTable")


def read(module: ModuleType, **changes: Any) -> dict[str, Any]:
    response: dict[str, Any] = module.handler(
        api_event("get_order", **changes), FakeLambdaContext()
    )
    return response


def test_the_owner_reads_a_confirmed_order(
    get_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a confirmed order
    given_confirmed(store, T0, order_id=ORDER_ID, total_cents=2580)
    before = all_items(table)

    # When its owner reads it (the sample event)
    response = read(get_order)

    # Then 200 with the state folded from its events, and the table is unchanged
    assert response["statusCode"] == 200
    assert body_of(response) == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "status": "CONFIRMED",
        "items": SAMPLE_ITEMS,
        "shippingAddress": None,
        "totalCents": 2580,
        "currency": "EUR",
        "history": [
            {"status": "PENDING", "at": "2026-11-25T14:00:00Z"},
            {"status": "CONFIRMED", "at": "2026-11-25T14:01:00Z"},
        ],
        "createdAt": "2026-11-25T14:00:00Z",
        "updatedAt": "2026-11-25T14:01:00Z",
    }
    assert all_items(table) == before


def test_a_rejected_order_shows_its_reason(
    get_order: ModuleType, store: DynamoDBOrderEventStore
) -> None:
    given_placed(store, T0, order_id=ORDER_ID)
    cause = json.dumps({"errorMessage": "Only 1 left of ESPRESSO-250G"})
    task = RejectOrderInput.model_validate(
        {"orderId": ORDER_ID, "error": {"Error": "OutOfStock", "Cause": cause}}
    )
    reject_order(task, store=store, clock=lambda: T0 + timedelta(minutes=2))

    body = body_of(read(get_order))

    assert (body["status"], body["reason"], body["totalCents"]) == (
        "REJECTED",
        "OUT_OF_STOCK",
        None,
    )
    assert body["history"][-1] == {
        "status": "REJECTED",
        "at": "2026-11-25T14:02:00Z",
        "reason": "OUT_OF_STOCK",
    }


def test_another_customers_order_is_not_found_exactly_like_a_missing_one(
    get_order: ModuleType, store: DynamoDBOrderEventStore
) -> None:
    # Given someone's order
    given_placed(store, T0, order_id=ORDER_ID)

    # When another customer asks for it, and for an order that does not exist
    theirs = read(get_order, sub=OTHER_CUSTOMER)
    missing_id = "00000000-0000-4000-8000-000000000000"
    missing = read(get_order, path=f"/orders/{missing_id}", path_parameters={"orderId": missing_id})

    # Then both are the same 404, so order ids cannot be probed
    assert theirs["statusCode"] == missing["statusCode"] == 404
    assert body_of(theirs) == body_of(missing) == {"message": "No such order", "code": "NOT_FOUND"}


def test_as_of_returns_the_order_as_it_stood_then(
    get_order: ModuleType, store: DynamoDBOrderEventStore
) -> None:
    # Given an order placed at 14:00 and confirmed at 14:01
    given_confirmed(store, T0, order_id=ORDER_ID, total_cents=2580)

    # When read as of 14:00:30, and as of 13:59
    then = read(get_order, query={"asOf": "2026-11-25T14:00:30Z"})
    before = read(get_order, query={"asOf": "2026-11-25T13:59:00+00:00"})

    # Then it was PENDING without totals, and before that it did not exist
    assert then["statusCode"] == 200
    body = body_of(then)
    assert (body["status"], body["totalCents"], body["currency"]) == ("PENDING", None, None)
    assert body["history"] == [{"status": "PENDING", "at": "2026-11-25T14:00:00Z"}]
    assert before["statusCode"] == 404
    assert body_of(before)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"path": "/orders/42", "path_parameters": {"orderId": "42"}}, "path.orderId"),
        ({"query": {"asOf": "yesterday"}}, "query.asOf"),
    ],
)
def test_a_malformed_order_id_or_time_is_a_400(
    get_order: ModuleType, store: DynamoDBOrderEventStore, changes: dict[str, Any], field: str
) -> None:
    given_placed(store, T0, order_id=ORDER_ID)

    response = read(get_order, **changes)

    assert response["statusCode"] == 400
    error = body_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith(f"Invalid request: {field}")
