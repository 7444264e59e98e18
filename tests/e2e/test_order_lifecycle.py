"""End to end on localcloud: the full saga with shipping, cancellation, and a compensation that
fails for good. localcloud is started the way `make run` starts it, with short retries.

Each test asserts the end state of every service's table, the outbox events, what the payment
provider saw, and the Step Functions execution; each prints how long its path took
(`pytest -s -k lifecycle | grep TIMING`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud
from tests.support.polling import eventually
from tests.support.shared_cloud import LIFECYCLE_GROUP
from tests.support.shop import (
    POLE,
    Client,
    final_order,
    item,
    new_customer,
    new_product,
    order_events,
    outbox,
    place,
    provider_charges,
    provider_refunds,
    scan,
    settled,
    stock_of,
    sub_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(LIFECYCLE_GROUP)]


@pytest.fixture(scope="module")
def cloud(lifecycle_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return lifecycle_cloud


def execution(cloud: RunningLocalCloud, variable: str, starter: str, name: str) -> dict[str, Any]:
    """The one execution called `name` of the state machine a starter function starts."""
    arn = cloud.status()["environments"][starter][variable]
    (found,) = [
        e
        for e in cloud.aws.stepfunctions.list_executions(stateMachineArn=arn)["executions"]
        if e["name"] == name
    ]
    return cloud.aws.stepfunctions.describe_execution(executionArn=found["executionArn"])


def saga_execution(cloud: RunningLocalCloud, order_id: str) -> dict[str, Any]:
    return execution(cloud, "ORDER_SAGA_STATE_MACHINE_ARN", "StartOrderWorkflowsFunction", order_id)


def cancellation_execution(cloud: RunningLocalCloud, order_id: str) -> dict[str, Any]:
    return execution(
        cloud,
        "ORDER_CANCELLATION_STATE_MACHINE_ARN",
        "StartOrderWorkflowsFunction",
        f"cancel-{order_id}",
    )


def ended(describe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        described = describe()
        return described if described["status"] != "RUNNING" else None

    result = eventually(check)
    assert result, "the execution is still running"
    return result  # type: ignore[no-any-return]


def timing(path: str, started: float) -> None:
    print(f"TIMING {path}: {time.monotonic() - started:.2f} s")


def only(charges: list[dict[str, Any]]) -> dict[str, Any]:
    (charge,) = charges
    return charge


# ---------------------------------------------------------------- the happy path, with a shipment
def test_an_order_is_reserved_charged_shipped_and_confirmed(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a customer registered in Germany (shipping has their address) and 5 on hand
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)

    # When they order 2 without naming an address
    started = time.monotonic()
    order_id = place(customer, sku, 2, "tok_visa")
    order = final_order(customer, order_id)
    timing("happy path (POST -> CONFIRMED)", started)

    # Then the order is CONFIRMED at the catalog total
    assert order["status"] == "CONFIRMED"
    assert (order["totalCents"], order["currency"]) == (2500, "EUR")
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderConfirmed"]
    # shipping: one SCHEDULED shipment to the registered address, with its event
    shipment = item(cloud, "ShippingTable", pk=f"SHIPMENT#{order_id}")
    assert shipment is not None
    assert (shipment["status"], shipment["carrier"]) == ("SCHEDULED", "DHL")
    assert shipment["address"]["city"] == "Berlin"
    assert shipment["customerId"] == sub_of(customer)
    (scheduled,) = outbox(cloud, "ShippingTable", "ShipmentScheduled", order_id)
    assert scheduled["data"]["trackingId"] == shipment["trackingId"]
    assert scheduled["data"]["country"] == "DE"
    # inventory: 2 taken once; payments: one charge, one record, one event
    assert stock_of(cloud, sku) == 3
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")
    assert reservation is not None
    assert reservation["status"] == "RESERVED"
    payment = item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")
    assert payment is not None
    assert (payment["status"], int(payment["amountCents"])) == ("CHARGED", 2500)
    assert len(provider_charges(cloud, order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    # the saga ran once, to the end, with the shipment in its output
    saga = saga_execution(cloud, order_id)
    assert saga["status"] == "SUCCEEDED"
    assert json.loads(saga["output"])["shipment"]["trackingId"] == shipment["trackingId"]

    # And a second order, now that every function of the path is warm, takes the same path
    started = time.monotonic()
    second = place(customer, sku, 1, "tok_visa")
    assert final_order(customer, second)["status"] == "CONFIRMED"
    timing("happy path, warm (POST -> CONFIRMED)", started)
    assert stock_of(cloud, sku) == 2
    assert item(cloud, "ShippingTable", pk=f"SHIPMENT#{second}")["status"] == "SCHEDULED"  # type: ignore[index]


# ---------------------------------------------------------------- shipping unavailable
def test_an_order_to_antarctica_is_rejected_refunded_once_and_the_stock_is_back(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    sku = new_product(admin, stock=4)
    customer = new_customer(cloud)

    started = time.monotonic()
    order_id = place(customer, sku, 3, "tok_visa", shippingAddress=POLE)
    order = final_order(customer, order_id)
    timing("shipping unavailable (POST -> REJECTED)", started)

    assert (order["status"], order["reason"]) == ("REJECTED", "SHIPPING_UNAVAILABLE")
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderRejected"]
    # inventory: reserved, then released: the stock is back
    assert stock_of(cloud, sku) == 4
    assert item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")["status"] == "RELEASED"  # type: ignore[index]
    assert len(outbox(cloud, "InventoryTable", "StockReserved", order_id)) == 1
    assert len(outbox(cloud, "InventoryTable", "StockReleased", order_id)) == 1
    # payments: charged, then refunded once at the provider
    payment = item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")
    assert payment is not None
    assert payment["status"] == "REFUNDED"
    charge = only(provider_charges(cloud, order_id))
    assert [r["amountCents"] for r in provider_refunds(cloud, charge["chargeId"])] == [3750]
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentRefunded", order_id)) == 1
    # shipping: nothing scheduled, no event
    assert item(cloud, "ShippingTable", pk=f"SHIPMENT#{order_id}") is None
    assert outbox(cloud, "ShippingTable", "ShipmentScheduled", order_id) == []
    saga = saga_execution(cloud, order_id)
    assert saga["status"] == "SUCCEEDED"
    assert json.loads(saga["output"])["error"]["Error"] == "ShippingUnavailable"


# ---------------------------------------------------------------- cancellation
def test_a_confirmed_order_is_cancelled_and_every_step_undone_once(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a confirmed order of 2 (3 left on hand)
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)
    order_id = place(customer, sku, 2, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    assert stock_of(cloud, sku) == 3

    # When its owner cancels it, and cancels again
    started = time.monotonic()
    status, body = customer.call("POST", f"/orders/{order_id}/cancel")
    again_status, again = customer.call("POST", f"/orders/{order_id}/cancel")
    order = settled(customer, order_id, "CONFIRMED", "CANCELLING")
    timing("cancel after confirm (POST /cancel -> CANCELLED)", started)

    # Then the first is accepted, the second refused, and the order is CANCELLED
    assert (status, body) == (202, {"orderId": order_id, "status": "CANCELLING"})
    assert (again_status, again["code"]) == (409, "ORDER_NOT_CANCELLABLE")
    assert order["status"] == "CANCELLED"
    assert [h["status"] for h in order["history"]] == [
        "PENDING",
        "CONFIRMED",
        "CANCELLING",
        "CANCELLED",
    ]
    assert order_events(cloud, order_id) == [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderCancellationRequested",
        "OrderCancelled",
    ]
    # shipping: the shipment is CANCELLED, one event each way
    shipment = item(cloud, "ShippingTable", pk=f"SHIPMENT#{order_id}")
    assert shipment is not None
    assert shipment["status"] == "CANCELLED"
    assert len(outbox(cloud, "ShippingTable", "ShipmentScheduled", order_id)) == 1
    assert len(outbox(cloud, "ShippingTable", "ShipmentCancelled", order_id)) == 1
    # payments: refunded once at the provider
    assert item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")["status"] == "REFUNDED"  # type: ignore[index]
    charge = only(provider_charges(cloud, order_id))
    assert [r["amountCents"] for r in provider_refunds(cloud, charge["chargeId"])] == [2500]
    assert len(outbox(cloud, "PaymentsTable", "PaymentRefunded", order_id)) == 1
    # inventory: the stock is back
    assert stock_of(cloud, sku) == 5
    assert item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")["status"] == "RELEASED"  # type: ignore[index]
    assert len(outbox(cloud, "InventoryTable", "StockReleased", order_id)) == 1
    # the cancellation ran once, cancel-<orderId>
    assert cancellation_execution(cloud, order_id)["status"] == "SUCCEEDED"


def test_an_order_that_is_not_confirmed_is_not_cancellable_and_nobody_elses_is_found(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given an order that was rejected (out of stock)
    sku = new_product(admin, stock=1)
    customer = new_customer(cloud)
    order_id = place(customer, sku, 2, "tok_visa")
    assert final_order(customer, order_id)["status"] == "REJECTED"

    # When its owner, or another customer, tries to cancel it
    started = time.monotonic()
    status, body = customer.call("POST", f"/orders/{order_id}/cancel")
    timing("cancel of a non-cancellable order (POST /cancel -> 409)", started)
    other_status, other = Client(cloud, cloud.token(f"other-{uuid.uuid4().hex[:8]}")).call(
        "POST", f"/orders/{order_id}/cancel"
    )

    # Then 409 for the owner, 404 for anyone else, and nothing changed
    assert (status, body["code"]) == (409, "ORDER_NOT_CANCELLABLE")
    assert "REJECTED" in body["message"]
    assert (other_status, other["code"]) == (404, "NOT_FOUND")
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderRejected"]
    assert stock_of(cloud, sku) == 1
    arn = cloud.status()["environments"]["StartOrderWorkflowsFunction"][
        "ORDER_CANCELLATION_STATE_MACHINE_ARN"
    ]
    names = [
        e["name"]
        for e in cloud.aws.stepfunctions.list_executions(stateMachineArn=arn)["executions"]
    ]
    assert f"cancel-{order_id}" not in names


# ---------------------------------------------------------------- a compensation that fails
def test_a_refund_the_provider_keeps_refusing_leaves_the_order_to_an_operator(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a card the provider charges but will not refund, and an order to Antarctica
    sku = new_product(admin, stock=4)
    customer = new_customer(cloud)

    started = time.monotonic()
    order_id = place(customer, sku, 1, "tok_refund_fails", shippingAddress=POLE)
    order = settled(customer, order_id, "PENDING")
    saga = ended(lambda: saga_execution(cloud, order_id))
    timing("failing compensation (POST -> NEEDS_ATTENTION, execution FAILED)", started)

    # Then the order NEEDS_ATTENTION (not REJECTED: its money is still charged)
    assert order["status"] == "NEEDS_ATTENTION"
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderNeedsAttention"]
    (attention,) = outbox(cloud, "OrdersTable", "OrderNeedsAttention", order_id)
    assert attention["data"]["failedStep"] == "RefundPayment"
    assert attention["data"]["error"] == "PaymentProviderUnavailable"
    # the execution failed (the ExecutionsFailed alarm's metric)
    assert (saga["status"], saga["error"]) == ("FAILED", "CompensationFailed")
    # payments: charged, never refunded; inventory: the stock was still released
    assert item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")["status"] == "CHARGED"  # type: ignore[index]
    charge = only(provider_charges(cloud, order_id))
    assert provider_refunds(cloud, charge["chargeId"]) == []
    assert outbox(cloud, "PaymentsTable", "PaymentRefunded", order_id) == []
    assert stock_of(cloud, sku) == 4
    assert item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")["status"] == "RELEASED"  # type: ignore[index]
    assert item(cloud, "ShippingTable", pk=f"SHIPMENT#{order_id}") is None
    # the case is on the operator queue
    queue_url = cloud.aws.sqs.get_queue_url(QueueName="OperatorQueue")["QueueUrl"]
    messages = cloud.aws.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    cases = [json.loads(m["Body"]) for m in messages]
    (case,) = [c for c in cases if c["orderId"] == order_id]
    assert case["workflow"] == "OrderSaga"
    assert case["executionArn"] == saga["executionArn"]
    assert list(case["compensationErrors"]) == ["RefundPayment"]
    assert case["error"]["Error"] == "ShippingUnavailable"
    assert "tok_refund_fails" not in json.dumps(case)
    needing = {
        i["pk"].removeprefix("ORDER#")
        for i in scan(cloud, "OrdersTable")
        if i.get("detailType") == "OrderNeedsAttention"  # (claims, breakers: no event)
    }
    assert {c["orderId"] for c in cases} == needing  # no case left by the paths that worked
    # and the alarms an operator is paged by exist
    cloudwatch = cloud.aws.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    queue_alarm = alarms["shop-OperatorQueueAlarm"]
    assert (queue_alarm["Namespace"], queue_alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "OperatorQueue"}]
    assert (queue_alarm["ComparisonOperator"], queue_alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    topic = [t["TopicArn"] for t in cloud.aws.client("sns").list_topics()["Topics"]]
    assert queue_alarm["AlarmActions"] == topic
    saga_alarm = alarms["shop-OrderSagaFailedAlarm"]
    assert saga_alarm["MetricName"] == "ExecutionsFailed"
    assert saga_alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": saga["stateMachineArn"]}
    ]
    assert "shop-OrderCancellationFailedAlarm" in alarms
