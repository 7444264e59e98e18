"""Event source mappings run as Lambda runs them (tests/localcloud/fixtures/event_sources.yaml).

localcloud runs as `make run` runs it (its CLI, its own process); the probe functions write
what they were given into a ledger table, and the on-failure queues hold what Lambda sends
them, so each test asserts what really happened.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually

FIXTURES = Path(__file__).parent / "fixtures"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MILLISECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-event-sources")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("event-sources"), template=FIXTURES / "event_sources.yaml"
    ) as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
def aged_record(cloud: RunningLocalCloud) -> str:
    """A record written as the module starts, for a function that is always throttled: it
    ages past MaximumRecordAgeInSeconds (60 s) while the other tests run."""
    key = f"aged-{uuid.uuid4()}"
    cloud.aws.dynamodb.put_item(TableName="AgedTable", Item={"pk": {"S": key}})
    return key


def queue_messages(cloud: RunningLocalCloud, queue: str) -> list[dict[str, Any]]:
    url = cloud.aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    answer = cloud.aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [dict(message) for message in answer.get("Messages", [])]


def ledger_items(cloud: RunningLocalCloud, prefix: str) -> list[dict[str, Any]]:
    items = cloud.aws.dynamodb.scan(TableName="LedgerTable")["Items"]
    return [item for item in items if item["pk"]["S"].startswith(prefix)]


def stream_records(cloud: RunningLocalCloud, table: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(stream ARN, shard id, records) as DynamoDB Streams holds them."""
    stream_arn = cloud.aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (shard,) = cloud.aws.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"][
        "Shards"
    ]
    iterator = cloud.aws.streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = cloud.aws.streams.get_records(ShardIterator=iterator)["Records"]
    return stream_arn, shard["ShardId"], [dict(record) for record in records]


def assert_arrival_times(info: dict[str, Any]) -> None:
    assert WHOLE_SECONDS.match(info["approximateArrivalOfFirstRecord"])
    assert WHOLE_SECONDS.match(info["approximateArrivalOfLastRecord"])


# ---------------------------------------------------------------- streams
def test_a_poison_record_is_bisected_out_and_sent_to_the_on_failure_queue_as_aws_writes_it(
    cloud: RunningLocalCloud,
) -> None:
    # Given four items written at once, the second one a poison record the function fails on
    run = uuid.uuid4().hex[:8]
    keys = [f"good-{run}-1", f"poison-{run}", f"good-{run}-3", f"good-{run}-4"]
    cloud.aws.dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "PoisonTable", "Item": {"pk": {"S": k}}}} for k in keys
        ]
    )

    # When the stream mapping (BisectBatchOnFunctionError, MaximumRetryAttempts 1) has
    # settled them
    (message,) = eventually(lambda: queue_messages(cloud, "PoisonFailuresQueue"))
    done = eventually(lambda: len(ledger_items(cloud, f"done#good-{run}")) == 3 and True)

    # Then the good records were processed and the poison record never was
    assert done
    assert not ledger_items(cloud, f"done#poison-{run}")
    # and the function saw the poison record in a bigger batch first, then alone, twice
    # (the first try and one retry; the splits used no retry)
    batches = [item["keys"]["L"] for item in ledger_items(cloud, "batch#")]
    with_poison = [[k["S"] for k in batch] for batch in batches if {"S": keys[1]} in batch]
    assert any(len(batch) > 1 for batch in with_poison)
    assert with_poison.count([keys[1]]) == 2
    # and the on-failure queue got the invocation record AWS sends, for that record alone
    stream_arn, shard_id, records = stream_records(cloud, "PoisonTable")
    (poison_sequence,) = [
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["pk"]["S"] == keys[1]
    ]
    body = json.loads(message["Body"])
    assert body["version"] == "1.0"
    assert MILLISECONDS.match(body["timestamp"])
    assert body["requestContext"]["functionArn"] == FUNCTION_ARN.format("PoisonSensitiveFunction")
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2
    assert body["requestContext"]["requestId"]
    assert body["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    info = body["DDBStreamBatchInfo"]
    assert {k: v for k, v in info.items() if not k.startswith("approximateArrival")} == {
        "shardId": shard_id,
        "startSequenceNumber": poison_sequence,
        "endSequenceNumber": poison_sequence,
        "batchSize": 1,
        "streamArn": stream_arn,
    }
    assert_arrival_times(info)


# ---------------------------------------------------------------- SQS
def test_maximum_concurrency_bounds_the_batches_run_at_once(cloud: RunningLocalCloud) -> None:
    # Given eight messages for a function that takes 1.5 s over each, read one at a time with
    # ScalingConfig.MaximumConcurrency 2
    ids = [f"{uuid.uuid4()}" for _ in range(8)]
    url = cloud.aws.sqs.get_queue_url(QueueName="WorkQueue")["QueueUrl"]
    cloud.aws.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "MessageBody": json.dumps({"id": i})} for n, i in enumerate(ids)],
    )

    # When they have all been processed
    work = eventually(lambda: len(ledger_items(cloud, "work#")) == len(ids) and True, 90)

    # Then never more than two ran at once, and two did
    assert work
    spans = [
        (float(item["started"]["S"]), float(item["ended"]["S"]))
        for item in ledger_items(cloud, "work#")
    ]
    most_at_once = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert most_at_once == 2
    status = cloud.status()["eventSources"]["SlowWorkerFunctionQueue"]
    assert status["maxConcurrentBatches"] == 2
    assert status["maximumConcurrency"] == 2


# ---------------------------------------------------------------- throttled, then too old
def test_a_record_throttled_past_its_maximum_age_goes_to_the_on_failure_queue(
    cloud: RunningLocalCloud, aged_record: str
) -> None:
    # Given a record for a function with ReservedConcurrentExecutions 0 (always throttled),
    # MaximumRetryAttempts 0 and MaximumRecordAgeInSeconds 60, written as the module started
    # When it is older than a minute
    messages = eventually(lambda: queue_messages(cloud, "AgedFailuresQueue"), timeout=150)

    # Then it went to the on-failure queue for its age: throttles used no retry attempt and
    # the function never ran
    assert messages, "the aged record never reached its on-failure queue"
    (message,) = messages
    body = json.loads(message["Body"])
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert body["requestContext"]["functionArn"] == FUNCTION_ARN.format("ThrottledFunction")
    assert body["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in body
    stream_arn, shard_id, records = stream_records(cloud, "AgedTable")
    (record,) = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == aged_record]
    info = body["DDBStreamBatchInfo"]
    assert (info["shardId"], info["streamArn"], info["batchSize"]) == (shard_id, stream_arn, 1)
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["startSequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert_arrival_times(info)
    discarded_at = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    arrived = datetime.fromisoformat(info["approximateArrivalOfFirstRecord"].replace("Z", "+00:00"))
    assert (discarded_at - arrived).total_seconds() > 60  # not before it was a minute old
    assert not ledger_items(cloud, f"done#{aged_record}")
    assert cloud.status()["eventSources"]["ThrottledFunctionStream"]["throttles"] > 1
