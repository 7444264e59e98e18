"""localcloud's TransactWriteItems undo: a cancelled transaction leaves items and the stream
as they were, without moto's copy of every table it names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from localcloud.dynamodb.transactions import install
from localcloud.spec import ACCOUNT_ID, REGION

TABLE = "Orders"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(
            TableName=TABLE, Item={"pk": {"S": "o-1"}, "sk": {"S": "v"}, "n": {"N": "1"}}
        )
        yield client


def _table() -> Any:
    return dynamodb_backends[ACCOUNT_ID][REGION].tables[TABLE]


def _items(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=TABLE)["Items"], key=lambda i: i["pk"]["S"])


def _writes(fail: bool) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": "o-1"}, "sk": {"S": "v"}},
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "o-2"}, "sk": {"S": "v"}}}},
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": "o-3"}, "sk": {"S": "v"}},
                "ConditionExpression": "attribute_exists(pk)"
                if fail
                else "attribute_not_exists(pk)",
            }
        },
    ]


def test_cancelled_transaction_leaves_items_and_stream_as_they_were(dynamodb: Any) -> None:
    # Given one item, one stream record, and the live table object
    table = _table()
    before_items = _items(dynamodb)
    before_stream = len(table.stream_shard.items)
    # When a transaction that updates it and puts two more fails on its last condition
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=_writes(fail=True))
    # Then DynamoDB's answer, nothing written, no stream record, and the same table object
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _items(dynamodb) == before_items
    assert len(table.stream_shard.items) == before_stream
    assert _table() is table  # moto's own rollback would have put a copy in its place


def test_committed_transaction_writes_every_item_and_its_stream_records(dynamodb: Any) -> None:
    table = _table()
    before_stream = len(table.stream_shard.items)
    dynamodb.transact_write_items(TransactItems=_writes(fail=False))
    assert [(i["pk"]["S"], i.get("n", {}).get("N")) for i in _items(dynamodb)] == [
        ("o-1", "2"),
        ("o-2", None),
        ("o-3", None),
    ]
    events = [r.record["eventName"] for r in table.stream_shard.items[before_stream:]]
    assert events == ["MODIFY", "INSERT", "INSERT"]


def test_two_writes_to_one_item_are_refused_and_undone(dynamodb: Any) -> None:
    before = _items(dynamodb)
    delete = {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "o-1"}, "sk": {"S": "v"}}}}
    writes = [*_writes(fail=False)[:2], delete]
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=writes)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert _items(dynamodb) == before
