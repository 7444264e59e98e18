"""SweepPendingOrders in-process on moto: an order left PENDING with no saga gets one.

An OrderPlaced stream record can be lost (a poller past its retries, a starter that kept
failing): the order would stay PENDING for ever. The sweeper, run on a schedule, finds orders
placed longer ago than a threshold (OrdersTable's OrdersPlacedByHour index) that are still
PENDING and that no saga has claimed, and starts their saga (execution name = order id).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    executions,
    given_confirmed,
    given_placed,
    load_handler,
)
from tests.support.lambda_context import FakeLambdaContext

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
LOST = "0f0e0d0c-0b0a-4909-8807-060504030201"  # placed an hour ago, its record lost
YOUNG = "1a1b1c1d-1e1f-4a2b-8c3d-4e5f6a7b8c9d"  # placed a minute ago: its saga may be starting
CLAIMED = "2b2c2d2e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"  # placed long ago, a saga claimed it
OLD = "3c3d3e3f-4a4b-4c4d-8e5f-6a7b8c9d0e1f"  # placed two days ago: beyond the lookback


@pytest.fixture
def store(make_table: Any) -> DynamoDBOrderEventStore:
    return DynamoDBOrderEventStore("OrdersTable", make_table("OrdersTable"))


@pytest.fixture
def sweeper(
    monkeypatch: pytest.MonkeyPatch, saga_arn: str, store: DynamoDBOrderEventStore
) -> ModuleType:
    return load_handler(
        monkeypatch,
        "sweep_pending_orders",
        ORDERS_TABLE_NAME="OrdersTable",
        ORDER_SAGA_STATE_MACHINE_ARN=saga_arn,
        PENDING_ORDER_SWEEP_AFTER_SECONDS="600",
        PENDING_ORDER_SWEEP_LOOKBACK_HOURS="24",
    )


def claim(order_id: str, execution_id: str) -> None:
    """What a saga's ClaimOrder state writes."""
    boto3.resource("dynamodb").Table("OrdersTable").put_item(
        Item={
            "pk": f"WORKFLOW#{order_id}",
            "sk": "SAGA",
            "itemType": "WORKFLOW_CLAIM",
            "orderId": order_id,
            "executionId": execution_id,
        }
    )


def sweep(module: ModuleType) -> dict[str, Any]:
    result: dict[str, Any] = module.handler({}, FakeLambdaContext())  # Scheduler's payload
    return result


def swept_metrics(output: str) -> list[int]:
    """The OrdersSwept values of the EMF documents the handler printed."""
    values = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if "OrdersSwept" in document:
                values.append(
                    int(
                        document["OrdersSwept"][0]
                        if isinstance(document["OrdersSwept"], list)
                        else document["OrdersSwept"]
                    )
                )
    return values


def test_a_pending_order_without_a_saga_gets_one_once(
    sweeper: ModuleType,
    saga_arn: str,
    store: DynamoDBOrderEventStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an order placed an hour ago whose stream record never reached the starter, one
    # placed a minute ago, one a saga claimed, one confirmed, one placed two days ago (ages
    # counted from now, as the sweeper counts them: not from when this module was imported)
    now = datetime.now(UTC)
    given_placed(store, now - timedelta(hours=1), order_id=LOST, token="tok_visa")
    given_placed(store, now - timedelta(minutes=1), order_id=YOUNG)
    given_placed(store, now - timedelta(hours=2), order_id=CLAIMED)
    claim(CLAIMED, "arn:aws:states:us-east-1:123456789012:execution:OrderSaga:x")
    given_confirmed(store, T0)  # placed T0 (2026-11-25), confirmed: long decided
    given_placed(store, now - timedelta(days=2), order_id=OLD)

    # When the sweeper runs, and runs again before that saga has run its first state
    first, second = sweep(sweeper), sweep(sweeper)

    # Then the lost order's saga was started, once (StartExecution is idempotent on the name:
    # the second run got the same execution), named after it, with the saga's input
    assert first == second == {"pending": 2, "started": 1}  # LOST and CLAIMED are past it
    (execution,) = executions(saga_arn)
    assert execution["name"] == LOST
    saga_input = json.loads(execution["input"])
    assert (saga_input["orderId"], saga_input["customerId"]) == (LOST, CUSTOMER)
    assert "paymentToken" not in saga_input  # only the sealed token, which KMS opens:
    opened = boto3.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(saga_input["paymentTokenCiphertext"]),
        EncryptionContext={"orderId": LOST},
    )
    assert opened["Plaintext"] == b"tok_visa"

    # And once its saga claimed the order, a later run leaves it alone
    claim(LOST, execution["executionArn"])
    assert sweep(sweeper) == {"pending": 2, "started": 0}
    assert len(executions(saga_arn)) == 1
    # And every run reported how many it started (the alarm's metric, Shop/OrdersSwept)
    assert swept_metrics(capsys.readouterr().out) == [1, 1, 0]
    # and nothing was written: the order is still PENDING until its saga decides
    assert [i.detailType for i in store.history(LOST)] == ["OrderPlaced"]


def test_each_order_placed_is_in_the_hour_index_with_its_time(
    store: DynamoDBOrderEventStore,
) -> None:
    # When an order is placed
    placed_at = datetime(2026, 12, 1, 14, 5, 6, tzinfo=UTC)
    given_placed(store, placed_at, order_id=LOST)

    # Then its OrderPlaced item carries the hour it was placed in (the index's key), and no
    # later event of the order does
    items = (
        boto3.resource("dynamodb")
        .Table("OrdersTable")
        .query(
            IndexName="OrdersPlacedByHour",
            KeyConditionExpression="placedHour = :hour",
            ExpressionAttributeValues={":hour": "2026-12-01T14"},
        )["Items"]
    )
    assert [(i["pk"], i["sk"]) for i in items] == [(f"ORDER#{LOST}", "V#000001")]
