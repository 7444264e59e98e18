"""GetRecords answered by localcloud.dynamodb.streams parses to the records moto's own
serializer gives, for every AttributeValue type and each kind of change; and its peek
(`has_records`, which spares the stream readers an empty GetRecords) agrees with GetRecords."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from localcloud.awsclients import AwsClients
from localcloud.dynamodb import streams
from localcloud.endpoint.server import AwsEndpoint

EVERY_TYPE = {
    "pk": {"S": "order#1"},
    "amount": {"N": "12.50"},
    "blob": {"B": b"\x00\x01binary"},
    "paid": {"BOOL": True},
    "nothing": {"NULL": True},
    "lines": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"tags": {"SS": ["p", "q"]}}}]},
    "sizes": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"a", b"b"]},
    "address": {"M": {"city": {"S": "Oslo"}}},
}


@pytest.fixture
def clients() -> Iterator[AwsClients]:
    endpoint = AwsEndpoint(runtime=None, status=dict)
    endpoint.serve("127.0.0.1", 0)
    streams.install()
    yield AwsClients(endpoint.url)
    endpoint.close()


def _iterator(clients: AwsClients, stream_arn: str, position: str = "TRIM_HORIZON") -> str:
    description = clients.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    iterator: str = clients.streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=description["Shards"][0]["ShardId"],
        ShardIteratorType=position,  # type: ignore[arg-type]
    )["ShardIterator"]
    return iterator


def _records(clients: AwsClients, stream_arn: str) -> list[Any]:
    iterator = _iterator(clients, stream_arn)
    return clients.streams.get_records(ShardIterator=iterator, Limit=100)["Records"]


def _streamed_table(clients: AwsClients) -> tuple[str, str]:
    table = f"Orders-{uuid.uuid4().hex[:8]}"
    clients.dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return table, clients.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def test_get_records_parses_to_what_motos_serializer_gives(
    clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table whose stream holds an insert, a modify and a remove of an item with
    # every AttributeValue type
    table, stream_arn = _streamed_table(clients)
    clients.dynamodb.put_item(TableName=table, Item=EVERY_TYPE)  # type: ignore[arg-type]
    clients.dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "order#1"}},
        UpdateExpression="SET amount = :v",
        ExpressionAttributeValues={":v": {"N": "13"}},
    )
    clients.dynamodb.delete_item(TableName=table, Key={"pk": {"S": "order#1"}})
    # When the records are read through localcloud's GetRecords and through moto's own
    fast = _records(clients, stream_arn)
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", streams.moto_get_records)
    motos = _records(clients, stream_arn)
    # Then both give the same three records, images and times included
    assert [record["eventName"] for record in fast] == ["INSERT", "MODIFY", "REMOVE"]
    assert fast == motos
    assert fast[0]["dynamodb"]["NewImage"]["blob"] == {"B": b"\x00\x01binary"}


def test_the_peek_says_what_get_records_would_answer(clients: AwsClients) -> None:
    # Given a streamed table and an iterator at the stream's end
    table, stream_arn = _streamed_table(clients)
    at_end = _iterator(clients, stream_arn, "LATEST")
    # Then the peek sees nothing to read, as GetRecords does
    assert not streams.has_records(at_end)
    assert clients.streams.get_records(ShardIterator=at_end)["Records"] == []
    # When an item is written
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "order#2"}})
    iterator = _iterator(clients, stream_arn)
    # Then the peek sees its record, and after GetRecords the next iterator has nothing
    assert streams.has_records(iterator)
    answer = clients.streams.get_records(ShardIterator=iterator)
    assert [record["eventName"] for record in answer["Records"]] == ["INSERT"]
    following = answer["NextShardIterator"]
    assert not streams.has_records(following)
    # And when another is written, the same iterator has it
    clients.dynamodb.delete_item(TableName=table, Key={"pk": {"S": "order#2"}})
    assert streams.has_records(following)
    assert streams.has_records("an iterator moto never gave")  # unsure: GetRecords answers


def test_an_iterator_expires_after_its_lifetime_as_dynamodb_streams_says(
    clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a streamed table with a record, and iterators that live a second
    table, stream_arn = _streamed_table(clients)
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    monkeypatch.setattr(streams, "ITERATOR_LIFETIME_SECONDS", 1.0)
    old = _iterator(clients, stream_arn)
    time.sleep(1.1)

    # When another iterator is made, and both are read
    fresh = _iterator(clients, stream_arn)
    with pytest.raises(ClientError) as expired:
        clients.streams.get_records(ShardIterator=old)

    # Then the old one is expired, as DynamoDB Streams answers past 15 minutes, and the new
    # one reads the record
    assert expired.value.response["Error"]["Code"] == "ExpiredIteratorException"
    assert expired.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(clients.streams.get_records(ShardIterator=fresh)["Records"]) == 1
