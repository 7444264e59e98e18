"""What every event source poller shares: settings, one invocation's outcome, backoff."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from localcloud.lambda_.concurrency import TooManyRequestsException

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.eventsources.mappings import MappingSpec
    from localcloud.faults.rules import FaultRegistry
    from localcloud.lambda_.runtime import InvokeResult, LambdaRuntime

log = logging.getLogger("localcloud.eventsources")


@dataclass(frozen=True)
class EventSourceSettings:
    """How localcloud's pollers pace themselves (Lambda's own numbers where it has them)."""

    # Wall clock (epoch seconds) that record ages are measured with; tests may move it.
    clock: Callable[[], float] = field(default=time.time)
    idle_poll_seconds: float = 0.5  # an empty source is asked again after at most this
    busy_poll_seconds: float = 0.02
    # "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times per
    # second" (with-ddb): a shard that gave a batch smaller than the mapping's is read again
    # after this, not at once (reading at busy pace made the pollers a large share of
    # localcloud's CPU under load, for records Lambda itself would pick up no sooner).
    shard_poll_seconds: float = 0.25
    # Lambda long-polls a queue (ReceiveMessage's WaitTimeSeconds); moto's receive wakes when a
    # message is sent. 0 reads without waiting and paces an empty queue by idle_backoff.
    # Short, so a stopping localcloud is not kept waiting.
    sqs_wait_seconds: int = 1
    shard_discovery_seconds: float = 5.0  # how often a stream's shard list is read again
    retry_backoff_seconds: float = 0.1  # a failed stream batch: first retry, doubling ...
    retry_backoff_max_seconds: float = 5.0  # ... up to this
    throttle_backoff_seconds: float = 0.1  # a throttled batch: first retry, doubling ...
    throttle_backoff_max_seconds: float = 5.0  # ... up to this (with jitter)
    # SQS without ScalingConfig: Lambda starts with 5 concurrent batches, adds up to 300 a
    # minute while messages keep coming, and stops at 1,000 (services-sqs-scaling).
    sqs_initial_concurrency: int = 5
    sqs_scale_up_per_minute: int = 300
    sqs_maximum_concurrency: int = 1_000

    def idle_backoff(self) -> Backoff:
        """Waits between reads of a source that gave nothing, from busy to idle pace."""
        return Backoff(self.busy_poll_seconds, self.idle_poll_seconds)

    def shard_backoff(self) -> Backoff:
        """Waits between reads of a shard that gave less than a full batch: Lambda's base
        rate, slowing to the idle pace while the shard stays empty."""
        base = min(self.shard_poll_seconds, self.idle_poll_seconds)
        return Backoff(base, self.idle_poll_seconds)

    def throttle_backoff(self) -> Backoff:
        return Backoff(self.throttle_backoff_seconds, self.throttle_backoff_max_seconds)


class Outcome(Enum):
    SUCCEEDED = "succeeded"  # every record done
    PARTIAL = "partial"  # ReportBatchItemFailures named the records that failed
    FAILED = "failed"  # function error, timeout, or an invalid partial batch response
    THROTTLED = "throttled"  # refused before running: not a function error, no retry used


@dataclass(frozen=True)
class BatchResult:
    outcome: Outcome
    failed_ids: frozenset[str] = frozenset()
    result: InvokeResult | None = None


def failed_ids(response: Any) -> frozenset[str] | None:
    """The itemIdentifiers a function reported as failed; None when the response is invalid.

    Lambda treats an empty or null list, an empty or null response as full success, and an
    empty or null itemIdentifier as a failure of the whole batch.
    """
    if not isinstance(response, dict):
        return frozenset()
    failures = response.get("batchItemFailures")
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        return None
    ids = {str(f.get("itemIdentifier") or "") if isinstance(f, dict) else "" for f in failures}
    return None if "" in ids else frozenset(ids)


class Backoff:
    """Exponential delays with full jitter, reset on success."""

    def __init__(self, first: float, maximum: float) -> None:
        self.first = first
        self.maximum = maximum
        self.current = first

    def next(self) -> float:
        delay = random.uniform(self.current / 2, self.current)
        self.current = min(self.current * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.current = self.first


class Poller(threading.Thread, ABC):
    """One event source mapping, run by Lambda's rules on its own thread."""

    def __init__(
        self,
        spec: MappingSpec,
        runtime: LambdaRuntime,
        clients: AwsClients,
        settings: EventSourceSettings,
    ) -> None:
        super().__init__(name=f"esm-{spec.logical_id}", daemon=True)
        self.spec = spec
        self.runtime = runtime
        self.clients = clients
        self.settings = settings
        self.stopping = threading.Event()
        self.faults: FaultRegistry | None = None  # localcloud's fault rules (duplicates)
        self.batches = 0
        self.throttles = 0
        self._counts = threading.Lock()

    def stop(self) -> None:
        self.stopping.set()

    def _duplicate_drawn(self) -> bool:
        if self.faults is None:
            return False
        service, operation = (
            ("sqs", "ReceiveMessage")
            if self.spec.kind == "sqs"
            else ("dynamodbstreams", "GetRecords")
        )
        return self.faults.draw(service, operation, actions={"duplicate"}) is not None

    @abstractmethod
    def record_id(self, record: dict[str, Any]) -> str:
        """The itemIdentifier a partial batch response names this record by."""

    def status(self) -> dict[str, Any]:
        return {
            "function": self.spec.function,
            "batches": self.batches,
            "throttles": self.throttles,
        }

    def invoke(self, records: list[dict[str, Any]]) -> BatchResult:
        """One synchronous invocation with these records, as Lambda's poller makes it (twice
        when a `duplicate` fault rule fires: at-least-once delivery, made to happen)."""
        event = json.dumps({"Records": records}).encode()
        try:
            if self._duplicate_drawn():
                log.info("%s: fault: batch delivered twice", self.spec.logical_id)
                self.runtime.invoke(self.spec.function, event)
            result = self.runtime.invoke(self.spec.function, event)
        except TooManyRequestsException as throttled:
            with self._counts:
                self.throttles += 1
            log.info(
                "%s: batch of %d throttled (%s)",
                self.spec.logical_id,
                len(records),
                throttled.reason,
            )
            return BatchResult(Outcome.THROTTLED)
        with self._counts:
            self.batches += 1
        if result.function_error:
            log.warning(
                "%s: batch of %d failed: %s",
                self.spec.function,
                len(records),
                result.payload[:300].decode(errors="replace"),
            )
            return BatchResult(Outcome.FAILED, result=result)
        if not self.spec.report_item_failures:
            return BatchResult(Outcome.SUCCEEDED, result=result)
        try:
            ids = failed_ids(json.loads(result.payload or b"null"))
        except json.JSONDecodeError:
            ids = None
        if ids is None or not ids <= {self.record_id(r) for r in records}:
            # An empty, null or unknown itemIdentifier: the whole batch failed
            log.warning(
                "%s: invalid partial batch response, the whole batch failed: %s",
                self.spec.function,
                result.payload[:300].decode(errors="replace"),
            )
            return BatchResult(Outcome.FAILED, result=result)
        if ids:
            return BatchResult(Outcome.PARTIAL, failed_ids=ids, result=result)
        return BatchResult(Outcome.SUCCEEDED, result=result)
