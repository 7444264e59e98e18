"""DynamoDB stream -> function, as Lambda runs a stream event source mapping.

- Every shard: the shard list is read again and again (DescribeStream, paginated); each shard
  is read by its own reader, in order, one batch at a time, and a child shard is read only
  after its parent has been read to its end (a closed shard's iterator runs out). Shards the
  mapping finds at start begin at its StartingPosition, later ones at TRIM_HORIZON.
- A batch that fails is retried, with backoff, until it succeeds, its records are older than
  MaximumRecordAgeInSeconds, or it has been retried MaximumRetryAttempts times; then it goes
  to the on-failure destination (or the log, at ERROR), and the shard moves on.
- BisectBatchOnFunctionError: a batch that fails with a function error is split in two and
  each half retried on its own, the older half first; a split uses no retry attempt (Lambda:
  "Splitting a batch does not consume the retry quota"). With ReportBatchItemFailures the
  batch restarts at the lowest failed sequence number, split or not.
- A throttled invocation is not a function error: it is retried with backoff and uses no
  retry attempt, until its records age out.

moto keeps one shard per table and never closes it; none of that is assumed here.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.dynamodb.streams import forget_iterator, has_records
from localcloud.eventsources.base import Backoff, BatchResult, Outcome, Poller
from localcloud.eventsources.failures import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    DiscardedBatch,
)

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.endpoint.json_protocol import JsonApi
    from localcloud.eventsources.base import EventSourceSettings
    from localcloud.eventsources.failures import OnFailureDestination
    from localcloud.eventsources.mappings import MappingSpec
    from localcloud.lambda_.runtime import InvokeResult, LambdaRuntime

log = logging.getLogger("localcloud.eventsources.streams")

GET_RECORDS_LIMIT = 1_000  # DynamoDB Streams' GetRecords maximum


class StreamPoller(Poller):
    """One stream mapping: finds the shards and runs a reader per shard."""

    def __init__(
        self,
        spec: MappingSpec,
        runtime: LambdaRuntime,
        clients: AwsClients,
        settings: EventSourceSettings,
        *,
        destination: OnFailureDestination,
        function_arn: str,
    ) -> None:
        super().__init__(spec, runtime, clients, settings)
        self.destination = destination
        self.function_arn = function_arn
        self.readers: dict[str, ShardReader] = {}
        self.discarded = 0
        self._first_listing = True

    @cached_property
    def api(self) -> JsonApi:
        """DynamoDB Streams as Lambda's poller calls it: the wire's JSON, no botocore client."""
        return self.clients.json_api("dynamodbstreams")

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.discover()
            except (ClientError, KeyError):
                log.exception("%s: could not list the stream's shards", self.spec.logical_id)
            self.stopping.wait(self.settings.shard_discovery_seconds)
        for reader in self.readers.values():
            reader.join(timeout=5)

    def stop(self) -> None:
        super().stop()
        for reader in list(self.readers.values()):
            reader.stopping.set()

    def discover(self) -> None:
        """Read the shard list; start a reader for each shard whose parent is done."""
        shards = self.list_shards()
        known = {shard["ShardId"] for shard in shards}
        position = self.spec.starting_position if self._first_listing else "TRIM_HORIZON"
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.readers:
                continue
            parent = shard.get("ParentShardId")
            parent_reader = self.readers.get(parent) if parent else None
            if parent and parent in known and (parent_reader is None or not parent_reader.done):
                continue  # its parent's records come first
            reader = ShardReader(self, shard_id, position or "TRIM_HORIZON")
            self.readers[shard_id] = reader
            reader.start()
        self._first_listing = False

    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamArn": self.spec.source_arn}
        while True:
            description = self.api.call("DescribeStream", kwargs)["StreamDescription"]
            shards.extend(dict(shard) for shard in description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            kwargs["ExclusiveStartShardId"] = last

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    def discard(self, batch: DiscardedBatch) -> None:
        with self._counts:
            self.discarded += len(batch.records)
        self.destination.send(batch, self.settings.clock())

    def status(self) -> dict[str, Any]:
        return {
            **super().status(),
            "shards": {shard_id: reader.status() for shard_id, reader in self.readers.items()},
            "discardedRecords": self.discarded,
        }


@dataclass
class _Batch:
    records: list[dict[str, Any]]
    attempts: int = 0  # retries used (a bisection uses none)
    invokes: int = 0
    last_result: InvokeResult | None = None


class ShardReader(threading.Thread):
    """Reads one shard in order and hands each batch to the function until it is settled."""

    def __init__(self, poller: StreamPoller, shard_id: str, position: str) -> None:
        super().__init__(name=f"esm-{poller.spec.logical_id}-{shard_id[-8:]}", daemon=True)
        self.poller = poller
        self.spec = poller.spec
        self.settings = poller.settings
        self.shard_id = shard_id
        self.position = position
        self.checkpoint: str | None = None  # last sequence number settled
        self.iterator: str | None = None
        self.done = False
        self.stopping = threading.Event()
        self.stopping_all = poller.stopping

    def status(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "done": self.done}

    def run(self) -> None:
        pace = self.settings.shard_backoff()
        while not self._stopped():
            try:
                read = self.read_and_deliver()
                again = read >= self.spec.batch_size  # a full batch: more may be waiting
            except ClientError as error:
                read, again = 0, self._recover(error)
            if self.done:
                log.info("%s: shard %s read to its end", self.spec.logical_id, self.shard_id)
                return
            if read:
                pace.reset()
            if not again:
                self._wait(pace.next())

    def _stopped(self) -> bool:
        return self.stopping.is_set() or self.stopping_all.is_set()

    def _wait(self, seconds: float) -> bool:
        return self.stopping.wait(seconds) or self.stopping_all.is_set()

    # ------------------------------------------------------------------ reading
    def _get_iterator(self) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.spec.source_arn, "ShardId": self.shard_id}
        if self.checkpoint is None:
            kwargs["ShardIteratorType"] = self.position
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["SequenceNumber"] = self.checkpoint
        iterator: str = self.poller.api.call("GetShardIterator", kwargs)["ShardIterator"]
        return iterator

    def _read(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records from the current iterator; marks the shard done at its end."""
        if self.iterator is None:
            self.iterator = self._get_iterator()
        elif not has_records(self.iterator):
            return []  # what GetRecords would answer, without the request
        response = self.poller.api.call(
            "GetRecords", {"ShardIterator": self.iterator, "Limit": min(limit, GET_RECORDS_LIMIT)}
        )
        forget_iterator(self.iterator)
        following = response.get("NextShardIterator")
        arn = self.spec.source_arn
        # the wire's records are Lambda's event records (binary base64, times epoch seconds)
        records = [{**record, "eventSourceARN": arn} for record in response.get("Records", [])]
        if following is None:
            self.iterator = None
            if not records:
                self.done = True  # a closed shard, read to its end
        else:
            self.iterator = following
        return records

    def read_and_deliver(self) -> int:
        """Reads a batch (waiting out the batching window) and delivers it; how many records."""
        records = self._read(self.spec.batch_size)
        if not records:
            return 0
        window_ends = self.settings.clock() + self.spec.batching_window_seconds
        while (
            len(records) < self.spec.batch_size
            and self.iterator is not None
            and self.settings.clock() < window_ends
            and not self._wait(self.settings.busy_poll_seconds * 5)
        ):
            records += self._read(self.spec.batch_size - len(records))
        matching = [r for r in records if self.spec.matches(r)]
        if matching:
            self.deliver(matching)
        if not self._stopped():
            self.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
        return len(records)

    def _recover(self, error: ClientError) -> bool:
        """Iterator trouble: read again from the checkpoint (or the oldest record left)."""
        code = error.response.get("Error", {}).get("Code", "")
        if code == "TrimmedDataAccessException":
            self.checkpoint, self.position = None, "TRIM_HORIZON"
        elif code == "ResourceNotFoundException":
            log.error("%s: stream %s is gone", self.spec.logical_id, self.spec.source_arn)
            self.done = True
            return False
        elif code != "ExpiredIteratorException":
            log.warning("%s: reading shard %s: %s", self.spec.logical_id, self.shard_id, error)
        self.iterator = None
        return False

    # ------------------------------------------------------------------ delivering
    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Settle these records: delivered, or discarded to the on-failure destination."""
        pending: deque[_Batch] = deque([_Batch(list(records))])
        retry = Backoff(
            self.settings.retry_backoff_seconds, self.settings.retry_backoff_max_seconds
        )
        throttle = self.settings.throttle_backoff()
        while pending and not self._stopped():
            batch = pending[0]
            if self._discard_aged(batch):
                if not batch.records:
                    pending.popleft()
                continue
            answer = self.poller.invoke(batch.records)
            if answer.outcome is Outcome.THROTTLED:
                self._wait(throttle.next())
                continue
            throttle.reset()
            batch.invokes += 1
            batch.last_result = answer.result
            remaining = self._remaining(batch.records, answer)
            if not remaining:
                pending.popleft()
                retry.reset()
                continue
            if (
                answer.outcome is Outcome.FAILED
                and self.spec.bisect_on_error
                and len(remaining) > 1
            ):
                half = len(remaining) // 2
                pending.popleft()
                pending.extendleft(
                    [
                        _Batch(remaining[half:], attempts=batch.attempts),
                        _Batch(remaining[:half], attempts=batch.attempts),
                    ]
                )
                continue
            batch.records = remaining
            batch.attempts += 1
            limit = self.spec.maximum_retry_attempts
            if 0 <= limit < batch.attempts:
                pending.popleft()
                self.poller.discard(self._discarded(batch, RETRY_ATTEMPTS_EXHAUSTED))
                continue
            self._wait(retry.next())

    def _remaining(
        self, records: list[dict[str, Any]], answer: BatchResult
    ) -> list[dict[str, Any]]:
        """The records still to deliver after this answer (from the first failed one on)."""
        if answer.outcome is Outcome.SUCCEEDED:
            return []
        if answer.outcome is Outcome.PARTIAL:  # failed_ids are the batch's (Poller.invoke)
            sequences = [self.poller.record_id(r) for r in records]
            return records[sequences.index(min(answer.failed_ids, key=int)) :]
        return records

    def _discard_aged(self, batch: _Batch) -> bool:
        """Send the batch's records older than MaximumRecordAgeInSeconds away; True if any."""
        limit = self.spec.maximum_record_age_seconds
        if limit < 0:
            return False
        now = self.settings.clock()
        aged = 0
        for record in batch.records:
            if now - record["dynamodb"]["ApproximateCreationDateTime"] <= limit:
                break
            aged += 1
        if not aged:
            return False
        expired = _Batch(batch.records[:aged], invokes=batch.invokes, last_result=batch.last_result)
        batch.records = batch.records[aged:]
        self.poller.discard(self._discarded(expired, RECORD_AGE_EXCEEDED))
        return True

    def _discarded(self, batch: _Batch, condition: str) -> DiscardedBatch:
        return DiscardedBatch(
            condition=condition,
            function_arn=self.poller.function_arn,
            stream_arn=self.spec.source_arn,
            shard_id=self.shard_id,
            records=tuple(batch.records),
            invoke_count=batch.invokes,
            last_result=batch.last_result,
        )
