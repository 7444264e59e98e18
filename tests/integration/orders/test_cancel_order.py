"""Cancellation and NEEDS_ATTENTION in-process on moto: POST /v1/orders/{orderId}/cancel,
StartOrderWorkflows (the cancellation) from the orders stream, MarkOrderCancelled,
MarkOrderNeedsAttention.
Each handler runs twice to show it changes nothing the second time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from orders import logic
from orders.errors import OrderNotCancelling
from orders.logic import reject_order
from orders.models import MarkOrderNeedsAttentionInput, RejectOrderInput
from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    SAMPLE_ORDER_ID,
    all_items,
    api_event,
    body_of,
    given_confirmed,
    given_placed,
    load_handler,
    order_items,
    sample_event,
    stream_event,
)
from tests.support.lambda_context import FakeLambdaContext

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
assert sample_event("cancel_order")["pathParameters"]["orderId"] == SAMPLE_ORDER_ID


@pytest.fixture
def table(make_table: Any) -> Any:
    return make_table("OrdersTable")


@pytest.fixture
def store(table: Any) -> DynamoDBOrderEventStore:
    return DynamoDBOrderEventStore("OrdersTable", table=table)


@pytest.fixture
def cancel_order(monkeypatch: pytest.MonkeyPatch, table: Any) -> ModuleType:
    return load_handler(monkeypatch, "cancel_order", ORDERS_TABLE_NAME="OrdersTable")


@pytest.fixture
def mark_order_cancelled(monkeypatch: pytest.MonkeyPatch, table: Any) -> ModuleType:
    return load_handler(monkeypatch, "mark_order_cancelled", ORDERS_TABLE_NAME="OrdersTable")


@pytest.fixture
def mark_order_needs_attention(monkeypatch: pytest.MonkeyPatch, table: Any) -> ModuleType:
    return load_handler(monkeypatch, "mark_order_needs_attention", ORDERS_TABLE_NAME="OrdersTable")


def post_cancel(module: ModuleType, **changes: Any) -> tuple[int, Any]:
    response = module.handler(api_event("cancel_order", **changes), FakeLambdaContext())
    return response["statusCode"], body_of(response)


def detail_types(table: Any) -> list[str]:
    return [item["detailType"] for item in order_items(table, SAMPLE_ORDER_ID)]


# ---------------------------------------------------------------- POST /cancel


def test_the_owner_cancels_a_confirmed_order_then_a_second_cancel_is_409(
    cancel_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a confirmed order
    given_confirmed(store, T0)

    # When its owner cancels it (the sample event), and cancels again
    first_status, first = post_cancel(cancel_order)
    after_first = all_items(table)
    second_status, second = post_cancel(cancel_order)

    # Then the first is accepted and the order is CANCELLING
    assert first_status == 202
    assert first == {"orderId": SAMPLE_ORDER_ID, "status": "CANCELLING"}
    assert detail_types(table) == ["OrderPlaced", "OrderConfirmed", "OrderCancellationRequested"]
    requested = order_items(table, SAMPLE_ORDER_ID)[-1]
    assert (requested["version"], requested["customerId"]) == (3, CUSTOMER)
    assert "paymentToken" not in requested
    detail = json.loads(requested["detail"])
    assert detail["data"] == {"orderId": SAMPLE_ORDER_ID, "customerId": CUSTOMER}
    assert detail["metadata"]["correlationId"] == "6f1a2b3c-4d5e-4f60-8a71-b2c3d4e5f6a7"
    # and the second is a 409 that changes nothing
    assert second_status == 409
    assert second["code"] == "ORDER_NOT_CANCELLABLE"
    assert "CANCELLING" in second["message"]
    assert all_items(table) == after_first


@pytest.mark.parametrize("given", ["PENDING", "REJECTED", "NEEDS_ATTENTION"])
def test_an_order_that_is_not_confirmed_is_not_cancellable(
    cancel_order: ModuleType, store: DynamoDBOrderEventStore, table: Any, given: str
) -> None:
    given_placed(store, T0)
    if given == "REJECTED":
        reject_order(
            RejectOrderInput.model_validate(
                {"orderId": SAMPLE_ORDER_ID, "error": {"Error": "OutOfStock"}}
            ),
            store=store,
            clock=lambda: T0 + timedelta(minutes=1),
        )
    elif given == "NEEDS_ATTENTION":
        logic.mark_order_needs_attention(
            MarkOrderNeedsAttentionInput.model_validate(
                {
                    "orderId": SAMPLE_ORDER_ID,
                    "customerId": CUSTOMER,
                    "compensationErrors": {"RefundPayment": {"Error": "States.Timeout"}},
                }
            ),
            store=store,
            clock=lambda: T0 + timedelta(minutes=1),
        )
    before = all_items(table)

    status, body = post_cancel(cancel_order)

    assert (status, body["code"]) == (409, "ORDER_NOT_CANCELLABLE")
    assert given in body["message"]
    assert all_items(table) == before


def test_another_customers_order_and_an_unknown_one_are_404(
    cancel_order: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    given_confirmed(store, T0)
    before = all_items(table)
    unknown = "0d8e3a4c-1b2f-4a5e-9c6d-7e8f9a0b1c2d"

    assert post_cancel(cancel_order, sub=OTHER_CUSTOMER)[0] == 404
    status, body = post_cancel(
        cancel_order, path=f"/orders/{unknown}/cancel", path_parameters={"orderId": unknown}
    )

    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert all_items(table) == before


def test_an_order_id_that_is_not_a_uuid_is_400(cancel_order: ModuleType, table: Any) -> None:
    status, body = post_cancel(
        cancel_order, path="/orders/nope/cancel", path_parameters={"orderId": "nope"}
    )

    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    assert body["message"]
    assert all_items(table) == []


# ---------------------------------------------------------------- StartOrderCancellation


def test_a_cancellation_request_starts_the_workflow_once_named_after_the_order(
    cancel_order: ModuleType,
    start_order_workflows: ModuleType,
    cancellation_arn: str,
    store: DynamoDBOrderEventStore,
) -> None:
    # Given a confirmed order its owner cancelled, as the orders stream carries it
    given_confirmed(store, T0)
    post_cancel(cancel_order)
    records = stream_event("OrdersTable")["Records"]
    requested = [
        r
        for r in records
        if r["dynamodb"]["NewImage"]["detailType"]["S"] == "OrderCancellationRequested"
    ]
    assert len(requested) == 1

    # When the record is delivered, and delivered again
    for _ in range(2):
        response = start_order_workflows.handler({"Records": requested}, FakeLambdaContext())
        assert response == {"batchItemFailures": []}

    # Then one execution, cancel-<orderId>, with the contract's input
    client = boto3.client("stepfunctions")
    (execution,) = client.list_executions(stateMachineArn=cancellation_arn)["executions"]
    assert execution["name"] == f"cancel-{SAMPLE_ORDER_ID}"
    described = client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "orderId": SAMPLE_ORDER_ID,
        "customerId": CUSTOMER,
        "correlationId": "6f1a2b3c-4d5e-4f60-8a71-b2c3d4e5f6a7",
    }


def test_a_record_of_another_event_fails_alone(
    cancel_order: ModuleType,
    start_order_workflows: ModuleType,
    cancellation_arn: str,
    saga_arn: str,
    store: DynamoDBOrderEventStore,
) -> None:
    # Given the whole history of a cancelled order in one batch (the template's filter keeps
    # the other events away; a bad deploy might not)
    given_confirmed(store, T0)
    post_cancel(cancel_order)
    records = stream_event("OrdersTable")["Records"]
    assert len(records) == 3

    response = start_order_workflows.handler({"Records": records}, FakeLambdaContext())

    # Then OrderConfirmed is reported failed (it starts nothing), the saga and the cancellation
    # started from their records
    assert response == {
        "batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    }
    client = boto3.client("stepfunctions")
    sagas = [e["name"] for e in client.list_executions(stateMachineArn=saga_arn)["executions"]]
    assert sagas == [SAMPLE_ORDER_ID]
    names = [
        e["name"] for e in client.list_executions(stateMachineArn=cancellation_arn)["executions"]
    ]
    assert names == [f"cancel-{SAMPLE_ORDER_ID}"]


# ---------------------------------------------------------------- MarkOrderCancelled


def test_marking_cancelled_twice_writes_one_event(
    cancel_order: ModuleType,
    mark_order_cancelled: ModuleType,
    store: DynamoDBOrderEventStore,
    table: Any,
) -> None:
    given_confirmed(store, T0)
    post_cancel(cancel_order)

    first = mark_order_cancelled.handler(sample_event("mark_order_cancelled"), FakeLambdaContext())
    after_first = all_items(table)
    second = mark_order_cancelled.handler(sample_event("mark_order_cancelled"), FakeLambdaContext())

    assert first == second == {"orderId": SAMPLE_ORDER_ID, "status": "CANCELLED"}
    assert all_items(table) == after_first
    assert detail_types(table) == [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderCancellationRequested",
        "OrderCancelled",
    ]
    assert json.loads(order_items(table, SAMPLE_ORDER_ID)[-1]["detail"])["data"] == {
        "orderId": SAMPLE_ORDER_ID,
        "customerId": CUSTOMER,
    }


def test_a_confirmed_order_without_a_cancellation_request_is_not_marked_cancelled(
    mark_order_cancelled: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    given_confirmed(store, T0)
    before = all_items(table)

    with pytest.raises(OrderNotCancelling):
        mark_order_cancelled.handler(sample_event("mark_order_cancelled"), FakeLambdaContext())
    assert all_items(table) == before


# ---------------------------------------------------------------- MarkOrderNeedsAttention


def test_marking_needs_attention_twice_writes_one_event(
    mark_order_needs_attention: ModuleType, store: DynamoDBOrderEventStore, table: Any
) -> None:
    # Given a confirmed order whose cancellation's refund failed for good (the sample event)
    given_confirmed(store, T0)

    first = mark_order_needs_attention.handler(
        sample_event("mark_order_needs_attention"), FakeLambdaContext()
    )
    after_first = all_items(table)
    second = mark_order_needs_attention.handler(
        sample_event("mark_order_needs_attention"), FakeLambdaContext()
    )

    assert first == second == {"orderId": SAMPLE_ORDER_ID, "status": "NEEDS_ATTENTION"}
    assert all_items(table) == after_first
    assert detail_types(table) == ["OrderPlaced", "OrderConfirmed", "OrderNeedsAttention"]
    assert json.loads(order_items(table, SAMPLE_ORDER_ID)[-1]["detail"])["data"] == {
        "orderId": SAMPLE_ORDER_ID,
        "customerId": CUSTOMER,
        "failedStep": "RefundPayment",
        "error": "PaymentProviderUnavailable",
        "message": "The refund could not be made",
        "failedSteps": ["RefundPayment"],
    }
