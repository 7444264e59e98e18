"""localcloud's meter counts DynamoDB's request units as DynamoDB does, from the requests the
endpoint answers (the table's items before and after each write, its GSIs, transactions), and
EventBridge and SQS requests in 64 KB chunks."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.billing.meter import Meter
from localcloud.endpoint.server import AwsEndpoint
from localcloud.spec import REGION


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AwsEndpoint]:
    server = AwsEndpoint(runtime=None, status=dict)
    server.meter = Meter()
    server.serve("127.0.0.1", 0)
    yield server
    server.close()


def client(endpoint: AwsEndpoint, service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
    )


def billing(endpoint: AwsEndpoint) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint.url}/_localcloud/billing", timeout=10) as answer:
        counts: dict[str, Any] = json.loads(answer.read())
        return counts


def reset(endpoint: AwsEndpoint) -> None:
    request = urllib.request.Request(
        f"{endpoint.url}/_localcloud/billing/reset", data=b"", method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def table(endpoint: AwsEndpoint) -> str:
    """A table with a sparse KEYS_ONLY GSI on `status` and a stream."""
    name = f"orders-{uuid.uuid4().hex[:8]}"
    client(endpoint, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    reset(endpoint)
    return name


def test_put_counts_the_item_size_and_the_index_write(endpoint: AwsEndpoint, table: str) -> None:
    dynamodb = client(endpoint, "dynamodb")
    # Given nothing counted yet
    # When an item of about 1.5 KB, in the index, is put
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "o-1"}, "status": {"S": "PENDING"}, "body": {"S": "x" * 1500}},
    )
    # Then the table takes 2 write units (1.5 KB rounds up to 2 KB) and the index 1 (its
    # KEYS_ONLY projection is small), and the stream gets a record
    counts = billing(endpoint)["dynamodb"][table]
    assert counts["writeUnits"] == 2
    assert counts["indexWriteUnits"] == 1
    assert counts["streamRecords"] == 1


def test_update_counts_the_larger_of_before_and_after(endpoint: AwsEndpoint, table: str) -> None:
    dynamodb = client(endpoint, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "o-2"}, "body": {"S": "x" * 3000}})
    reset(endpoint)
    # When the 3 KB item's body is removed (the item after is tiny)
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "o-2"}}, UpdateExpression="REMOVE body")
    # Then the write is counted at the item before: 3 units; not in the index, no index write
    counts = billing(endpoint)["dynamodb"][table]
    assert counts["writeUnits"] == 3
    assert counts["indexWriteUnits"] == 0


def test_a_failed_condition_still_consumes_write_units(endpoint: AwsEndpoint, table: str) -> None:
    dynamodb = client(endpoint, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "o-3"}, "status": {"S": "PENDING"}})
    reset(endpoint)
    # When a conditional put finds the item already there
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "o-3"}, "status": {"S": "PENDING"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    # Then it consumed one write unit and wrote nothing to the index or the stream
    counts = billing(endpoint)["dynamodb"][table]
    assert counts == {
        "readUnits": 0,
        "writeUnits": 1,
        "indexWriteUnits": 0,
        "streamRecords": 0,
        "failedWrites": 1,
    }


def test_transactions_count_double(endpoint: AwsEndpoint, table: str) -> None:
    dynamodb = client(endpoint, "dynamodb")
    # When two small items are put in one transaction
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "t-1"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "t-2"}}}},
        ]
    )
    # Then each costs 2 write units
    assert billing(endpoint)["dynamodb"][table]["writeUnits"] == 4


def test_reads_round_to_4_kb_and_halve_when_eventually_consistent(
    endpoint: AwsEndpoint, table: str
) -> None:
    dynamodb = client(endpoint, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "r-1"}, "body": {"S": "x" * 5000}})
    reset(endpoint)
    # When the 5 KB item is read strongly once and eventually once
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "r-1"}}, ConsistentRead=True)
    dynamodb.get_item(TableName=table, Key={"pk": {"S": "r-1"}})
    # Then 2 units (8 KB) plus 1 (half of 2)
    assert billing(endpoint)["dynamodb"][table]["readUnits"] == 3.0


def test_events_and_sqs_requests_are_counted_in_64_kb_chunks(endpoint: AwsEndpoint) -> None:
    events = client(endpoint, "events")
    sqs = client(endpoint, "sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    reset(endpoint)
    # When one event of 100 KB and one small event are put, and a 200 KB message is sent
    events.put_events(
        Entries=[
            {"Source": "shop.test", "DetailType": "Big", "Detail": json.dumps({"x": "y" * 99_999})},
            {"Source": "shop.test", "DetailType": "Small", "Detail": "{}"},
        ]
    )
    sqs.send_message(QueueUrl=queue, MessageBody="z" * 200_000)
    # Then the big event is 2 events and the small 1; the message is 4 requests
    counts = billing(endpoint)
    assert counts["eventBridge"] == {"entries": 2, "events64KB": 3}
    assert counts["sqs"]["requests"] == 4
    # And a receive that finds the message is one request, an empty one is only idle polling
    sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30)
    sqs.receive_message(QueueUrl=queue)
    counts = billing(endpoint)
    assert counts["sqs"]["requests"] == 4 + 4  # the received 200 KB is 4 chunks too
    assert counts["sqs"]["emptyReceives"] == 1
