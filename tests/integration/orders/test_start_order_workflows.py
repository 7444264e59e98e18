"""StartOrderWorkflows in-process on moto: the orders stream -> one saga execution per order
placed, one cancellation execution per cancellation requested (one reader of the stream for
both, beside the outbox relay)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3

from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    SAMPLE_ITEMS,
    SAMPLE_ORDER_ID,
    executions,
    given_placed,
    sample_event,
    stream_event,
)
from tests.support.lambda_context import FakeLambdaContext

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def placed_only() -> dict[str, Any]:
    """The sample batch's OrderPlaced record, alone."""
    records = sample_event("start_order_workflows")["Records"]
    return {"Records": [r for r in records if detail_type(r) == "OrderPlaced"]}


def detail_type(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["NewImage"]["detailType"]["S"])


def deliver(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = module.handler(event, FakeLambdaContext())
    return response


def test_an_order_placed_record_starts_the_saga_named_after_the_order(
    start_order_workflows: ModuleType, saga_arn: str, make_table: Any
) -> None:
    # Given an order placed in OrdersTable, as its stream carries it
    given_placed(DynamoDBOrderEventStore("OrdersTable", make_table("OrdersTable")), T0)
    event = stream_event("OrdersTable")

    # When the stream batch is delivered
    response = deliver(start_order_workflows, event)

    # Then one execution, named after the order, with the contract's input
    assert response == {"batchItemFailures": []}
    (execution,) = executions(saga_arn)
    assert execution["name"] == SAMPLE_ORDER_ID
    assert json.loads(execution["input"]) == {
        "orderId": SAMPLE_ORDER_ID,
        "customerId": CUSTOMER,
        "items": SAMPLE_ITEMS,
        # the token as PlaceOrder sealed it (only ChargePayment can open it), never the token
        "paymentTokenCiphertext": event["Records"][0]["dynamodb"]["NewImage"][
            "paymentTokenCiphertext"
        ]["S"],
        "shippingAddressCiphertext": None,  # the order named none: shipping uses the registered one
        "correlationId": "corr-1",
    }


def test_a_redelivered_record_starts_nothing_new_while_running_or_after(
    start_order_workflows: ModuleType, saga_arn: str
) -> None:
    # Given the sample record was delivered once and its saga is running
    deliver(start_order_workflows, placed_only())

    # When it is delivered again (Step Functions returns the running execution)
    again = deliver(start_order_workflows, placed_only())

    # And again once that execution has ended (Step Functions: ExecutionAlreadyExists)
    (running,) = executions(saga_arn)
    boto3.client("stepfunctions").stop_execution(executionArn=running["executionArn"])
    after_end = deliver(start_order_workflows, placed_only())

    # Then both count as success and there is still exactly one execution
    assert again == after_end == {"batchItemFailures": []}
    (execution,) = executions(saga_arn)
    assert execution["name"] == SAMPLE_ORDER_ID
    assert execution["status"] == "ABORTED"


def test_a_bad_record_fails_alone_and_the_others_start(
    start_order_workflows: ModuleType, saga_arn: str
) -> None:
    # Given a batch of a good record and one whose image has no payment token
    (good,) = placed_only()["Records"]
    bad = copy.deepcopy(good)
    bad["dynamodb"]["SequenceNumber"] = "111100000000012345678902"
    del bad["dynamodb"]["NewImage"]["paymentTokenCiphertext"]

    # When the batch is delivered
    response = deliver(start_order_workflows, {"Records": [bad, good]})

    # Then only the bad record is reported failed (retried alone), the good one started
    assert response == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678902"}]}
    assert [execution["name"] for execution in executions(saga_arn)] == [SAMPLE_ORDER_ID]


def test_one_batch_starts_each_workflow_its_record_asks_for(
    start_order_workflows: ModuleType, saga_arn: str, cancellation_arn: str
) -> None:
    # Given the sample batch: an order placed, and another order's cancellation requested
    event = sample_event("start_order_workflows")
    placed, requested = event["Records"]
    assert (detail_type(placed), detail_type(requested)) == (
        "OrderPlaced",
        "OrderCancellationRequested",
    )

    # When it is delivered, twice (a redelivered batch)
    first, second = deliver(start_order_workflows, event), deliver(start_order_workflows, event)

    # Then one saga for the placed order and one cancellation for the other, each once
    assert first == second == {"batchItemFailures": []}
    assert [e["name"] for e in executions(saga_arn)] == [SAMPLE_ORDER_ID]
    cancelled = requested["dynamodb"]["Keys"]["pk"]["S"].removeprefix("ORDER#")
    assert [e["name"] for e in executions(cancellation_arn)] == [f"cancel-{cancelled}"]
