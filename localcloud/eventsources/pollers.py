"""Event source mappings as Lambda runs them: SQS queues and DynamoDB streams -> functions.

Each AWS::Lambda::EventSourceMapping of the template becomes a poller thread that honours
BatchSize, FilterCriteria, FunctionResponseTypes [ReportBatchItemFailures],
MaximumRetryAttempts (streams) and, through SQS itself, the queue's redrive policy: a message
that fails stays on the queue, comes back after its visibility timeout and moves to the DLQ
after maxReceiveCount receives.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.events.models import EventPattern

from localcloud.lambda_.concurrency import TooManyRequestsException
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.cloudformation.template import Template
    from localcloud.lambda_.runtime import LambdaRuntime

log = logging.getLogger("localcloud.eventsources.pollers")

IDLE_POLL_SECONDS = 0.5
BUSY_POLL_SECONDS = 0.02
THROTTLE_BACKOFF_SECONDS = 0.1  # first retry of a throttled batch; doubles up to the max
THROTTLE_BACKOFF_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class MappingSpec:
    logical_id: str
    function: str
    source_arn: str
    batch_size: int
    report_item_failures: bool
    filters: tuple[EventPattern, ...]
    starting_position: str
    maximum_retry_attempts: int  # streams only; -1 = until the record expires

    @property
    def kind(self) -> str:
        return "sqs" if self.source_arn.startswith("arn:aws:sqs:") else "dynamodb"

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(p.matches_event(record) for p in self.filters)  # type: ignore[arg-type]


def mapping_specs(template: Template) -> list[MappingSpec]:
    specs = []
    for logical_id, raw in template.of_type("AWS::Lambda::EventSourceMapping"):
        properties = template.resolve(raw)
        if not properties.get("Enabled", True):
            continue
        filters = properties.get("FilterCriteria", {}).get("Filters", [])
        specs.append(
            MappingSpec(
                logical_id=logical_id,
                function=properties["FunctionName"],
                source_arn=properties["EventSourceArn"],
                batch_size=int(
                    properties.get(
                        "BatchSize", 10 if "sqs" in properties["EventSourceArn"] else 100
                    )
                ),
                report_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
                filters=tuple(EventPattern.load(f["Pattern"]) for f in filters),
                starting_position=properties.get("StartingPosition", "LATEST"),
                maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            )
        )
    return specs


def _epoch_seconds(value: object) -> float:
    """boto3 parses stream timestamps; Lambda passes them on as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _failed_ids(response: dict[str, Any] | None) -> set[str] | None:
    """The itemIdentifiers a function reported as failed; None when the response is invalid."""
    if response is None:
        return set()
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
    return None if "" in ids else ids


class Poller(threading.Thread, ABC):
    def __init__(self, spec: MappingSpec, runtime: LambdaRuntime, clients: AwsClients) -> None:
        super().__init__(name=f"esm-{spec.logical_id}", daemon=True)
        self.spec = spec
        self.runtime = runtime
        self.clients = clients
        self.stopping = threading.Event()
        self.batches = 0
        self.throttles = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        delay = BUSY_POLL_SECONDS
        while not self.stopping.is_set():
            try:
                busy = self.poll_once()
            except Exception:
                log.exception("event source %s failed to poll", self.spec.logical_id)
                busy = False
            delay = BUSY_POLL_SECONDS if busy else min(delay * 2, IDLE_POLL_SECONDS)
            self.stopping.wait(delay)

    @abstractmethod
    def poll_once(self) -> bool:
        """Fetch and deliver one batch; True when there was something to do."""

    def throttle_retry_seconds(self) -> float | None:
        """How long a throttled batch is retried before it is let go (None: until it runs)."""
        return None

    def invoke(self, records: list[dict[str, Any]]) -> tuple[bool, set[str] | None]:
        """(function succeeded, failed item ids) for one batch. A throttled invocation is
        retried with backoff, as Lambda's pollers do (for SQS until the batch's visibility
        timeout runs out; then it goes back to the queue)."""
        event = json.dumps({"Records": records}).encode()
        limit = self.throttle_retry_seconds()
        give_up_at = None if limit is None else time.monotonic() + limit
        delay = THROTTLE_BACKOFF_SECONDS
        while True:
            try:
                result = self.runtime.invoke(self.spec.function, event)
                break
            except TooManyRequestsException:
                self.throttles += 1
                wait = random.uniform(delay / 2, delay)
                if give_up_at is not None and time.monotonic() + wait > give_up_at:
                    return False, None
                if self.stopping.wait(wait):
                    return False, None
                delay = min(delay * 2, THROTTLE_BACKOFF_MAX_SECONDS)
        self.batches += 1
        if result.function_error:
            log.warning(
                "%s: batch of %d failed: %s",
                self.spec.function,
                len(records),
                result.payload[:300].decode(errors="replace"),
            )
            return False, None
        if not self.spec.report_item_failures:
            return True, set()
        try:
            response = json.loads(result.payload or b"null")
        except json.JSONDecodeError:
            return True, None
        return True, _failed_ids(response)


class SqsPoller(Poller):
    def __init__(self, spec: MappingSpec, runtime: LambdaRuntime, clients: AwsClients) -> None:
        super().__init__(spec, runtime, clients)
        self.queue_name = spec.source_arn.rsplit(":", 1)[1]
        # From the ARN, as Lambda does: the execution role need not allow sqs:GetQueueUrl.
        self.queue_url = f"{clients.endpoint_url}/{ACCOUNT_ID}/{self.queue_name}"
        attributes = clients.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        self.visibility_timeout = float(attributes.get("VisibilityTimeout", 30))

    def throttle_retry_seconds(self) -> float | None:
        return self.visibility_timeout

    def poll_once(self) -> bool:
        messages = self.clients.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.spec.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        records = [self._record(dict(m)) for m in messages]
        matching = [r for r in records if self.spec.matches(r)]
        # Lambda deletes messages its filters drop, unprocessed.
        dropped = [r for r in records if r not in matching]
        succeeded, failed = self.invoke(matching) if matching else (True, set())
        if not succeeded or failed is None:
            return True  # the whole batch comes back after the visibility timeout
        done = dropped + [r for r in matching if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            self.clients.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                    for i, r in enumerate(done[start : start + 10])
                ],
            )
        return True

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "dataType": value["DataType"],
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.spec.source_arn,
            "awsRegion": REGION,
        }


class StreamPoller(Poller):
    """One shard (moto has one per table); checkpoints like Lambda: a batch that fails is
    retried from its first failed record, up to MaximumRetryAttempts, then skipped."""

    def __init__(self, spec: MappingSpec, runtime: LambdaRuntime, clients: AwsClients) -> None:
        super().__init__(spec, runtime, clients)
        stream = clients.streams.describe_stream(StreamArn=spec.source_arn)["StreamDescription"]
        self.shard_id = stream["Shards"][0]["ShardId"]
        self.iterator = clients.streams.get_shard_iterator(
            StreamArn=spec.source_arn,
            ShardId=self.shard_id,
            ShardIteratorType=spec.starting_position,  # type: ignore[arg-type]
        )["ShardIterator"]
        self.attempts = 0

    def poll_once(self) -> bool:
        response = self.clients.streams.get_records(
            ShardIterator=self.iterator, Limit=self.spec.batch_size
        )
        records: list[dict[str, Any]] = [
            {
                **json.loads(json.dumps(r, default=_epoch_seconds)),
                "eventSourceARN": self.spec.source_arn,
            }
            for r in response.get("Records", [])
        ]
        if not records:
            self._advance(response["NextShardIterator"])
            return False
        matching = [r for r in records if self.spec.matches(r)]
        succeeded, failed = self.invoke(matching) if matching else (True, set())
        if succeeded and failed == set():
            self._advance(response["NextShardIterator"])
            return True
        retry_from = _first_failed(matching, failed) if succeeded and failed else None
        self.attempts += 1
        limit = self.spec.maximum_retry_attempts
        if limit >= 0 and self.attempts > limit:
            log.error(
                "%s: giving up on %d stream records after %d retries",
                self.spec.function,
                len(records),
                limit,
            )
            self._advance(response["NextShardIterator"])
            return True
        sequence = retry_from or records[0]["dynamodb"]["SequenceNumber"]
        self._advance(
            self.clients.streams.get_shard_iterator(
                StreamArn=self.spec.source_arn,
                ShardId=self.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=sequence,
            )["ShardIterator"],
            retrying=True,
        )
        self.stopping.wait(min(0.1 * 2**self.attempts, 5.0))
        return True

    def _advance(self, iterator: str, *, retrying: bool = False) -> None:
        _forget_iterator(self.iterator)
        self.iterator = iterator
        if not retrying:
            self.attempts = 0


def _first_failed(records: list[dict[str, Any]], failed: set[str] | None) -> str | None:
    if not failed:
        return None
    sequences = [
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["SequenceNumber"] in failed
    ]
    return min(sequences, key=int) if sequences else None


def _forget_iterator(iterator: str) -> None:
    """moto keeps every shard iterator it hands out; a poller makes many, so drop used ones."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators.pop(iterator, None)


class EventSources:
    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        clients: AwsClients,
        clients_for: Callable[[str], AwsClients] | None = None,
    ) -> None:
        """`clients_for(function)`: clients acting as the function's execution role, which
        Lambda's pollers use (localcloud.iam); `clients` (the admin's) when not given."""
        self.pollers: list[Poller] = []
        for spec in mapping_specs(template):
            poller_class = SqsPoller if spec.kind == "sqs" else StreamPoller
            poller_clients = clients_for(spec.function) if clients_for else clients
            self.pollers.append(poller_class(spec, runtime, poller_clients))

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def close(self) -> None:
        for poller in self.pollers:
            poller.stop()
        deadline = time.monotonic() + 10
        for poller in self.pollers:
            poller.join(timeout=max(0.1, deadline - time.monotonic()))

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            p.spec.logical_id: {
                "function": p.spec.function,
                "batches": p.batches,
                "throttles": p.throttles,
            }
            for p in self.pollers
        }
