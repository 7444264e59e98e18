"""End to end on localcloud: an order whose OrderPlaced stream record was lost is found by the
scheduled sweeper and its saga started.

The lost record is made the way DynamoDB allows: the OrderPlaced item is written over a draft
of itself, so the stream carries a MODIFY that the starter's and the relay's filters (INSERT
only) drop, as if the record had gone past its retries. localcloud fires the sweeper's
EventBridge Scheduler schedule (every minute here).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from orders.logic import place_order
from orders.models import OrderEventItem, PlaceOrder, PlaceOrderRequest
from orders.payment_token import KmsTokenSealer
from orders.repository import OrderEventStore
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.sealing import FakeSealer
from tests.support.shop import (
    SAGA_OVERRIDES,
    Client,
    item,
    new_customer,
    new_product,
    order_events,
    provider_charges,
    stock_of,
    sub_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-sweeper")]

SWEEP_AFTER_SECONDS = 60
_serialize = TypeSerializer().serialize


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    overrides = {
        **SAGA_OVERRIDES,
        "PendingOrderSweepSchedule": "rate(1 minute)",
        "PendingOrderSweepAfterSeconds": str(SWEEP_AFTER_SECONDS),
    }
    with localcloud_process(tmp_path_factory.mktemp("sweeper"), overrides=overrides) as running:
        yield running


class Captured(OrderEventStore):
    """Keeps what place_order appends, to be written to localcloud by hand."""

    def __init__(self) -> None:
        self.items: list[OrderEventItem] = []

    def history(self, order_id: str) -> list[OrderEventItem]:
        return [i for i in self.items if i.order_id == order_id]

    def append(self, item: OrderEventItem) -> None:
        self.items.append(item)


def place_with_a_lost_record(
    cloud: RunningLocalCloud, customer: Client, sku: str, placed_at: datetime
) -> str:
    store = Captured()
    request = PlaceOrderRequest.model_validate(
        {"items": [{"sku": sku, "quantity": 1}], "paymentToken": "tok_visa"}
    )
    command = PlaceOrder(customerId=sub_of(customer), correlationId="lost-1", request=request)
    # The token sealed as PlaceOrder seals it: with localcloud's payment-token key (KMS)
    key_id = cloud.status()["environments"]["PlaceOrderFunction"]["PAYMENT_TOKEN_KEY_ID"]
    seal = KmsTokenSealer(key_id, cloud.aws.client("kms"))
    order_id = place_order(
        command,
        store=store,
        clock=lambda: placed_at,
        new_id=lambda: str(uuid.uuid4()),
        seal=seal,
        address_sealer=FakeSealer(),  # the order has no address to seal
    ).orderId
    (placed,) = store.items
    real = {k: _serialize(v) for k, v in placed.to_item().items()}
    draft = {**real, "itemType": {"S": "DRAFT"}, "detailType": {"S": "Draft"}}
    for version in (draft, real):  # INSERT of a draft nobody hears, then MODIFY: no INSERT
        cloud.aws.dynamodb.put_item(TableName="OrdersTable", Item=version)
    return order_id


def test_an_order_whose_start_was_lost_gets_its_saga_from_the_sweeper(
    cloud: RunningLocalCloud,
) -> None:
    admin = Client(cloud, cloud.token("sweeper-admin", admin=True))
    sku = new_product(admin, stock=3, price=990)
    customer = new_customer(cloud)

    # Given an order placed two minutes ago whose OrderPlaced record reached no reader
    order_id = place_with_a_lost_record(
        cloud, customer, sku, datetime.now(UTC) - timedelta(minutes=2)
    )
    time.sleep(3)  # what a starter would have needed: still nothing
    assert item(cloud, "OrdersTable", pk=f"WORKFLOW#{order_id}", sk="SAGA") is None
    assert order_events(cloud, order_id) == ["OrderPlaced"]

    # When the sweeper's schedule fires (every minute)
    def decided() -> dict[str, Any] | None:
        status, body = customer.call("GET", f"/orders/{order_id}")
        assert status == 200, body
        return body if body["status"] != "PENDING" else None

    order = eventually(decided, timeout=180)

    # Then its saga ran, once, and the order is confirmed: stock taken, card charged once
    assert order, "the order is still PENDING"
    assert order["status"] == "CONFIRMED"
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderConfirmed"]
    assert stock_of(cloud, sku) == 2
    assert len(provider_charges(cloud, order_id)) == 1
    arn = cloud.status()["environments"]["SweepPendingOrdersFunction"][
        "ORDER_SAGA_STATE_MACHINE_ARN"
    ]
    executions = cloud.aws.stepfunctions.list_executions(stateMachineArn=arn)["executions"]
    assert [e["status"] for e in executions if e["name"] == order_id] == ["SUCCEEDED"]
    schedule = cloud.status()["schedules"]["SweepPendingOrdersFunctionSweep"]
    assert schedule["fired"] >= 1
    assert schedule["expression"] == "rate(1 minute)"
