"""How a stream mapping settles a batch, rule by rule (Lambda's error handling for streams).

A shard reader is given a batch and a scripted function (what Lambda's runtime would answer);
the test sees every batch the function was given and every batch sent to the on-failure
destination. The whole path, with moto and real workers, is in test_event_sources.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from localcloud.eventsources.base import EventSourceSettings
from localcloud.eventsources.failures import DiscardedBatch, invocation_record
from localcloud.eventsources.mappings import mapping_spec
from localcloud.eventsources.streams import ShardReader, StreamPoller
from localcloud.faults.api import parse_rules
from localcloud.faults.rules import FaultRegistry
from localcloud.lambda_.concurrency import TooManyRequestsException
from localcloud.lambda_.runtime import InvokeResult

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.eventsources.failures import OnFailureDestination
    from localcloud.lambda_.runtime import LambdaRuntime

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-12-01T00:00:00.000"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:F"
WRITTEN_AT = 1_796_000_000.0
Answer = Callable[[list[str]], InvokeResult | Exception]


def ok(payload: Any = None) -> InvokeResult:
    return InvokeResult(json.dumps(payload).encode(), None, cold_start=False, duration_ms=1.0)


def error() -> InvokeResult:
    body = {"errorType": "PoisonRecord", "errorMessage": "no"}
    return InvokeResult(json.dumps(body).encode(), "Unhandled", False, 1.0, request_id="req-1")


class ScriptedFunction:
    """Answers each batch by a rule and remembers the keys of every batch it was given."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []

    def invoke(self, name: str, payload: bytes, **_: Any) -> InvokeResult:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in json.loads(payload)["Records"]]
        answer = self.answer(keys)
        if isinstance(answer, Exception):
            raise answer
        self.batches.append(keys)
        return answer


class CapturingDestination:
    def __init__(self) -> None:
        self.sent: list[DiscardedBatch] = []

    def send(self, batch: DiscardedBatch, now: float) -> None:
        self.sent.append(batch)


def records(*keys: str) -> list[dict[str, Any]]:
    return [
        {
            "eventName": "INSERT",
            "eventSourceARN": STREAM,
            "dynamodb": {
                "Keys": {"pk": {"S": key}},
                "SequenceNumber": str(1000 + n),
                "ApproximateCreationDateTime": WRITTEN_AT + n,
            },
        }
        for n, key in enumerate(keys)
    ]


def deliver(
    answer: Answer,
    keys: list[str],
    *,
    now: float = WRITTEN_AT + 5,
    faults: FaultRegistry | None = None,
    **mapping: Any,
) -> tuple[ScriptedFunction, CapturingDestination, StreamPoller]:
    spec = mapping_spec(
        "Mapping",
        {
            "EventSourceArn": STREAM,
            "FunctionName": "F",
            "StartingPosition": "TRIM_HORIZON",
            **mapping,
        },
    )
    settings = EventSourceSettings(
        clock=lambda: now,
        retry_backoff_seconds=0.001,
        retry_backoff_max_seconds=0.001,
        throttle_backoff_seconds=0.001,
        throttle_backoff_max_seconds=0.001,
    )
    function = ScriptedFunction(answer)
    destination = CapturingDestination()
    poller = StreamPoller(
        spec,
        cast("LambdaRuntime", function),
        cast("AwsClients", None),
        settings,
        destination=cast("OnFailureDestination", destination),
        function_arn=FUNCTION_ARN,
    )
    poller.faults = faults
    ShardReader(poller, "shardId-1", "TRIM_HORIZON").deliver(records(*keys))
    return function, destination, poller


def fail_on(poison: str) -> Answer:
    return lambda keys: error() if poison in keys else ok()


def test_bisecting_isolates_a_poison_record_and_splits_use_no_retries() -> None:
    function, destination, _ = deliver(
        fail_on("p"),
        ["a", "p", "c", "d"],
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
    )

    assert function.batches == [
        ["a", "p", "c", "d"],
        ["a", "p"],
        ["a"],
        ["p"],
        ["p"],  # its one retry
        ["c", "d"],
    ]
    (discarded,) = destination.sent
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in discarded.records] == ["p"]
    assert (discarded.condition, discarded.invoke_count) == ("RetryAttemptsExhausted", 2)
    assert discarded.last_result is not None
    assert discarded.last_result.function_error == "Unhandled"


def test_a_duplicate_fault_delivers_the_batch_twice_and_is_counted() -> None:
    faults = FaultRegistry(
        parse_rules('[{"service": "dynamodbstreams", "action": "duplicate", "limit": 1}]')
    )

    function, destination, _ = deliver(lambda _keys: ok(), ["a", "b"], faults=faults)

    assert function.batches == [["a", "b"], ["a", "b"]]
    assert destination.sent == []
    assert faults.counts() == {"dynamodbstreams.duplicate": 1}


def test_without_bisecting_the_whole_batch_is_retried_then_discarded() -> None:
    function, destination, _ = deliver(fail_on("p"), ["a", "p", "c"], MaximumRetryAttempts=2)

    assert function.batches == [["a", "p", "c"]] * 3
    (discarded,) = destination.sent
    assert len(discarded.records) == 3
    assert discarded.invoke_count == 3


def test_a_partial_batch_response_retries_from_the_lowest_failed_record() -> None:
    poison_sequence = "1001"  # records("a", "p", ...) numbers them from 1000

    def answer(keys: list[str]) -> InvokeResult:
        failed = [{"itemIdentifier": poison_sequence}]
        return ok({"batchItemFailures": failed}) if "p" in keys else ok()

    function, destination, _ = deliver(
        answer,
        ["a", "p", "c", "d"],
        FunctionResponseTypes=["ReportBatchItemFailures"],
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
    )

    assert function.batches == [["a", "p", "c", "d"], ["p", "c", "d"]]
    (discarded,) = destination.sent
    assert [r["dynamodb"]["SequenceNumber"] for r in discarded.records] == [
        "1001",
        "1002",
        "1003",
    ]
    assert discarded.last_result is not None
    assert discarded.last_result.function_error is None


def test_an_invalid_partial_batch_response_fails_the_whole_batch() -> None:
    function, destination, _ = deliver(
        lambda keys: ok({"batchItemFailures": [{"itemIdentifier": ""}]}),
        ["a", "b"],
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=0,
    )

    assert function.batches == [["a", "b"]]
    (discarded,) = destination.sent
    assert len(discarded.records) == 2


def test_a_throttled_batch_is_retried_without_using_retry_attempts() -> None:
    throttles = iter(range(3))

    def answer(keys: list[str]) -> InvokeResult | Exception:
        if next(throttles, None) is not None:
            return TooManyRequestsException(
                "F", "ReservedFunctionConcurrentInvocationLimitExceeded"
            )
        return ok()

    function, destination, poller = deliver(answer, ["a"], MaximumRetryAttempts=0)

    assert function.batches == [["a"]]
    assert destination.sent == []
    assert poller.throttles == 3


def test_records_older_than_the_maximum_age_are_discarded_before_any_invocation() -> None:
    function, destination, _ = deliver(
        lambda keys: ok(),
        ["old", "new"],
        now=WRITTEN_AT + 60.5,  # "old" is 60.5 s old, "new" 59.5 s
        MaximumRecordAgeInSeconds=60,
    )

    assert function.batches == [["new"]]
    (discarded,) = destination.sent
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in discarded.records] == ["old"]
    assert (discarded.condition, discarded.invoke_count) == ("RecordAgeExceeded", 0)
    assert discarded.last_result is None


def test_the_invocation_record_has_the_shape_aws_documents() -> None:
    batch = DiscardedBatch(
        condition="RetryAttemptsExhausted",
        function_arn=FUNCTION_ARN,
        stream_arn=STREAM,
        shard_id="shardId-1",
        records=tuple(records("a", "b")),
        invoke_count=3,
        last_result=error(),
    )

    record = invocation_record(batch, now=WRITTEN_AT + 30.25)

    assert record == {
        "requestContext": {
            "requestId": "req-1",
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2026-11-30T00:53:50.250Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "1000",
            "endSequenceNumber": "1001",
            "approximateArrivalOfFirstRecord": "2026-11-30T00:53:20Z",
            "approximateArrivalOfLastRecord": "2026-11-30T00:53:21Z",
            "batchSize": 2,
            "streamArn": STREAM,
        },
    }


# ---------------------------------------------------------------- shards
class FakeStreams:
    """DynamoDB Streams with a closed parent shard and its open child, one shard per page."""

    def __init__(self, shards: dict[str, tuple[str | None, list[str], bool]]) -> None:
        self.shards = shards  # id -> (parent id, keys, closed)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The reader's JSON API (localcloud.endpoint.json_protocol): GetRecords -> get_records."""
        method = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
        answer: dict[str, Any] = getattr(self, method)(**params)
        return answer

    def describe_stream(self, StreamArn: str, **page: str) -> dict[str, Any]:
        ids = list(self.shards)
        start = ids.index(page["ExclusiveStartShardId"]) + 1 if page else 0
        shard_id = ids[start]
        parent, _, _ = self.shards[shard_id]
        shard: dict[str, Any] = {"ShardId": shard_id}
        if parent:
            shard["ParentShardId"] = parent
        description: dict[str, Any] = {"Shards": [shard]}
        if start + 1 < len(ids):
            description["LastEvaluatedShardId"] = shard_id
        return {"StreamDescription": description}

    def get_shard_iterator(
        self, StreamArn: str, ShardId: str, ShardIteratorType: str, **at: str
    ) -> dict[str, str]:
        keys = self.shards[ShardId][1]
        position = 0 if ShardIteratorType == "TRIM_HORIZON" else len(keys)
        if "SequenceNumber" in at:
            position = [self._sequence(ShardId, n) for n in range(len(keys))].index(
                at["SequenceNumber"]
            ) + 1
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard_id, at = ShardIterator.split("|")
        position = int(at)
        _, keys, closed = self.shards[shard_id]
        batch = keys[position : position + Limit]
        response: dict[str, Any] = {
            "Records": [
                {
                    "eventName": "INSERT",
                    "dynamodb": {
                        "Keys": {"pk": {"S": key}},
                        "SequenceNumber": self._sequence(shard_id, position + n),
                        "ApproximateCreationDateTime": WRITTEN_AT,
                    },
                }
                for n, key in enumerate(batch)
            ]
        }
        end = position + len(batch)
        if not (closed and end >= len(keys)):
            response["NextShardIterator"] = f"{shard_id}|{end}"
        return response

    @staticmethod
    def _sequence(shard_id: str, n: int) -> str:
        return str((2000 if shard_id.endswith("child") else 1000) + n)


def test_every_shard_is_read_and_a_child_only_after_its_parent_is_read_to_its_end() -> None:
    # Given a closed parent shard with two records and its child with one, listed on two pages
    streams = FakeStreams(
        {
            "shardId-parent": (None, ["p1", "p2"], True),
            "shardId-child": ("shardId-parent", ["c1"], False),
        }
    )
    parent_done_when_child_delivered: list[bool] = []
    seen: list[str] = []

    def answer(keys: list[str]) -> InvokeResult:
        if "c1" in keys:
            parent_done_when_child_delivered.append(poller.readers["shardId-parent"].done)
        seen.extend(keys)
        return ok()

    spec = mapping_spec(
        "Mapping",
        {
            "EventSourceArn": STREAM,
            "FunctionName": "F",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1,
        },
    )
    settings = EventSourceSettings(
        clock=lambda: WRITTEN_AT, shard_discovery_seconds=0.05, idle_poll_seconds=0.02
    )
    clients = type("Clients", (), {"json_api": lambda _self, _service: streams})()
    poller = StreamPoller(
        spec,
        cast("LambdaRuntime", ScriptedFunction(answer)),
        cast("AwsClients", clients),
        settings,
        destination=cast("OnFailureDestination", CapturingDestination()),
        function_arn=FUNCTION_ARN,
    )

    # When the mapping runs until the child's record is delivered
    poller.start()
    deadline = time.monotonic() + 10
    while "c1" not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    poller.stop()
    poller.join(timeout=5)

    # Then the records came in shard order, the child's after its parent had been read out
    assert seen == ["p1", "p2", "c1"]
    assert parent_done_when_child_delivered == [True]
    assert poller.readers["shardId-parent"].checkpoint == "1001"
