"""The meter's reading of a stored DynamoDB item (localcloud.billing.meter._moto_item) is the
item in DynamoDB's wire form, as GetItem answers it, blobs included; where the JSON round trip
it replaces could read the item at all, it reads the same; it shares nothing with the store."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from localcloud.billing import meter
from localcloud.dynamodb import patches
from localcloud.spec import ACCOUNT_ID, REGION
from tests.support.values import scribble

TABLE = "Metered"
PLAIN: dict[str, Any] = {
    "s": {"S": "text"},
    "empty": {"S": ""},
    "n": {"N": "12.50"},
    "yes": {"BOOL": False},
    "nothing": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {}}]},
    "map": {"M": {"": {"S": "empty key"}, "deeper": {"M": {"lines": {"L": [{"S": "y"}]}}}}},
}
BLOBS: dict[str, Any] = {
    "b": {"B": base64.b64encode(b"\x00\x01").decode()},
    "bs": {"BS": [base64.b64encode(b"x").decode(), base64.b64encode(b"\xff").decode()]},
    "inside": {"M": {"b": {"B": base64.b64encode(b"\x02").decode()}}},
}


@pytest.fixture(autouse=True)
def dynamodb() -> Iterator[Any]:
    patches.install()
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
        )
        yield client


def _put(client: Any, item: dict[str, Any]) -> dict[str, Any]:
    """Put the wire-form item (blobs as boto3 takes them, bytes) and return its key."""
    client.put_item(TableName=TABLE, Item=_as_boto3(item))
    return {"pk": item["pk"], "sk": item["sk"]}


def _as_boto3(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"B"}:
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"}:
            return {"BS": [base64.b64decode(each) for each in value["BS"]]}
        return {key: _as_boto3(each) for key, each in value.items()}
    if isinstance(value, list):
        return [_as_boto3(each) for each in value]
    return value


def _json_round_trip(table_name: str, key: dict[str, Any]) -> Any:
    """The reading as it was: moto's to_json copied through JSON."""
    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
    item = table.get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
    assert item is not None
    return json.loads(json.dumps(item.to_json()["Attributes"]))


def test_an_item_without_blobs_reads_as_the_json_round_trip_read_it(dynamodb: Any) -> None:
    # Given an item of every non-binary type, nested
    key = _put(dynamodb, {"pk": {"S": "o"}, "sk": {"S": "1"}, **PLAIN})
    # When the meter reads it
    reading = meter._moto_item(TABLE, key)
    # Then it is what the JSON round trip gave, and what was written
    assert reading == _json_round_trip(TABLE, key)
    assert reading == {"pk": {"S": "o"}, "sk": {"S": "1"}, **PLAIN}


def test_an_item_with_blobs_reads_as_getitem_answers_it(dynamodb: Any) -> None:
    # Given an item with a blob, a blob set and a blob in a map (the JSON round trip raised
    # TypeError on the bytes: the metered write answered 500)
    key = _put(dynamodb, {"pk": {"S": "o"}, "sk": {"S": "2"}, **PLAIN, **BLOBS})
    with pytest.raises(TypeError):
        _json_round_trip(TABLE, key)
    # When the meter reads it
    reading = meter._moto_item(TABLE, key)
    # Then it is the item in wire form, as written and as GetItem answers it (blobs base64)
    assert reading == {"pk": {"S": "o"}, "sk": {"S": "2"}, **PLAIN, **BLOBS}


def test_a_reading_shares_nothing_with_the_store(dynamodb: Any) -> None:
    # Given a nested item read by the meter
    key = _put(dynamodb, {"pk": {"S": "o"}, "sk": {"S": "3"}, **PLAIN, **BLOBS})
    reading = meter._moto_item(TABLE, key)
    assert reading is not None
    # When every dict and list of the reading is changed
    scribble(reading)
    # Then the stored item reads as before
    assert meter._moto_item(TABLE, key) == {"pk": {"S": "o"}, "sk": {"S": "3"}, **PLAIN, **BLOBS}


def test_missing_items_and_bad_keys_read_as_nothing(dynamodb: Any) -> None:
    # Given no such item, a key without its hash attribute, and no such table
    # Then the meter reads nothing for each
    assert meter._moto_item(TABLE, {"pk": {"S": "none"}, "sk": {"S": "0"}}) is None
    assert meter._moto_item(TABLE, {"sk": {"S": "0"}}) is None
    assert meter._moto_item("NoSuchTable", {"pk": {"S": "o"}}) is None
