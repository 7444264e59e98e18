"""The card token is sealed at the edge (issue 11, finding 3).

PlaceOrder encrypts the payment token with the shop's payment-token KMS key, bound to the order
id; only the ciphertext is stored and passed on, and only ChargePayment decrypts it. After an
order is confirmed, the raw token is nowhere a reader of the system could find it: not in
OrdersTable, not in its stream, not in the saga's execution history, not in any event on the
bus, not in any line localcloud or the functions logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shop import (
    SAGA_OVERRIDES,
    Client,
    final_order,
    new_customer,
    new_product,
    provider_charges,
    scan,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-token-secrecy")]

# A token the provider simulator accepts (tok_ + anything not a failing card) and that cannot
# appear by chance in any id, name or log line.
RAW_TOKEN = "tok_visa_a9Q7zK3mW2"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("secrecy"), overrides=SAGA_OVERRIDES
    ) as running:
        yield running


def capture_the_bus(cloud: RunningLocalCloud) -> str:
    """A queue that receives every event on the shop's bus (a rule of the test's own)."""
    bus = cloud.status()["environments"]["OrdersEventRelayFunction"]["EVENT_BUS_NAME"]
    queue_url = cloud.aws.sqs.create_queue(QueueName="secrecy-bus-capture")["QueueUrl"]
    queue_arn = cloud.aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule_arn = cloud.aws.events.put_rule(
        Name="secrecy-everything", EventBusName=bus, EventPattern='{"source": [{"prefix": ""}]}'
    )["RuleArn"]
    # EventBridge delivers only what the queue's policy lets it send, for this rule
    allow_the_rule = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    cloud.aws.sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(allow_the_rule)}
    )
    cloud.aws.events.put_targets(
        Rule="secrecy-everything",
        EventBusName=bus,
        Targets=[{"Id": "capture", "Arn": queue_arn}],
    )
    return queue_url


def drain(cloud: RunningLocalCloud, queue_url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = cloud.aws.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(m["Body"] for m in messages)


def stream_records(cloud: RunningLocalCloud, table: str) -> list[Any]:
    arn = cloud.aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = cloud.aws.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    records: list[Any] = []
    for shard in shards:
        iterator = cloud.aws.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(cloud.aws.streams.get_records(ShardIterator=iterator)["Records"])
    return records


def saga_history(cloud: RunningLocalCloud, order_id: str) -> list[Any]:
    machine = cloud.status()["environments"]["StartOrderWorkflowsFunction"][
        "ORDER_SAGA_STATE_MACHINE_ARN"
    ]
    executions = cloud.aws.stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    [execution] = [e for e in executions if e["name"] == order_id]
    return cloud.aws.stepfunctions.get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]


def test_a_confirmed_orders_card_token_is_nowhere_to_be_read(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a reader of every event on the bus, a product and a customer
    queue_url = capture_the_bus(cloud)
    sku = new_product(admin, stock=3, price=990)
    customer = new_customer(cloud)

    # When the customer orders with a card token
    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 1}], "paymentToken": RAW_TOKEN}
    )
    assert status == 202, placed
    order_id = placed["orderId"]

    # Then the order is confirmed: ChargePayment could read the token, and charged it
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    assert len(provider_charges(cloud, order_id)) == 1

    # And the raw token is in no OrdersTable item, stream record, history event, bus event or
    # log line, while the order's OrderPlaced item holds its ciphertext
    items = [i for i in scan(cloud, "OrdersTable") if i["pk"] == f"ORDER#{order_id}"]
    placed_item = next(i for i in items if i["detailType"] == "OrderPlaced")
    assert placed_item["paymentTokenCiphertext"]
    assert "paymentToken" not in placed_item
    history = saga_history(cloud, order_id)
    assert history, "the saga ran"
    bus_events: list[str] = []

    def confirmation_on_the_bus() -> bool:  # the relays put each table's events on the bus
        bus_events.extend(drain(cloud, queue_url))
        return any(order_id in b and "OrderConfirmed" in b for b in bus_events)

    assert eventually(confirmation_on_the_bus), "the bus capture saw the order confirmed"
    log = cloud.log()
    assert f'"order_id":"{order_id}"' in log.replace(" ", ""), "the functions' logs are in it"
    where = {
        "OrdersTable": json.dumps(items, default=str),
        "OrdersTable stream": json.dumps(stream_records(cloud, "OrdersTable"), default=str),
        "saga execution history": json.dumps(history, default=str),
        "bus events": json.dumps(bus_events),
        "localcloud and function logs": log,
    }
    assert [name for name, text in where.items() if RAW_TOKEN in text] == []
