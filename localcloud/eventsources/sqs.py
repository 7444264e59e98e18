"""SQS queue -> function, as Lambda runs an SQS event source mapping.

- Several batches at once: Lambda starts with five concurrent batches, adds up to 300 a
  minute while the queue keeps giving full batches and stops at 1,000; `ScalingConfig:
  MaximumConcurrency` caps it (2 to 1,000). When invocations fail or are throttled it backs
  off by running fewer batches, and scales back to five when the queue is quiet.
- The queue's visibility timeout rules a batch's life: a batch that fails stays on the queue
  and comes back when its visibility timeout runs out (and moves to the DLQ after
  maxReceiveCount receives, by SQS itself); a throttled batch is retried with backoff until
  its visibility timeout would run out, then let go (Lambda: "continues to retry the message
  until the message's timestamp exceeds your queue's visibility timeout"). Lambda never
  changes a message's visibility.
- ReportBatchItemFailures deletes the batch but the failed messages; FilterCriteria deletes
  the messages it drops, unprocessed. BatchSize over 10 gathers several receives during
  MaximumBatchingWindowInSeconds.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.eventsources.base import Outcome, Poller
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.endpoint.json_protocol import JsonApi
    from localcloud.eventsources.base import EventSourceSettings
    from localcloud.eventsources.mappings import MappingSpec
    from localcloud.lambda_.runtime import LambdaRuntime

log = logging.getLogger("localcloud.eventsources.sqs")

RECEIVE_LIMIT = 10  # SQS ReceiveMessage's MaxNumberOfMessages


class SqsPoller(Poller):
    def __init__(
        self,
        spec: MappingSpec,
        runtime: LambdaRuntime,
        clients: AwsClients,
        settings: EventSourceSettings,
        visibility_timeout: float,
    ) -> None:
        super().__init__(spec, runtime, clients, settings)
        self.queue_name = spec.source_arn.rsplit(":", 1)[1]
        # From the ARN, as Lambda does: the execution role need not allow sqs:GetQueueUrl.
        self.queue_url = queue_url(clients.endpoint_url, spec.source_arn)
        self.visibility_timeout = visibility_timeout
        self.cap = spec.maximum_concurrency or settings.sqs_maximum_concurrency
        self.floor = min(settings.sqs_initial_concurrency, self.cap)
        self.target = self.floor  # concurrent batches Lambda runs now
        self.in_flight = 0
        self.max_in_flight = 0
        self._slots = threading.Condition()
        self._last_scale_up = time.monotonic()
        self._workers = ThreadPoolExecutor(
            max_workers=self.cap, thread_name_prefix=f"esm-{spec.logical_id}"
        )

    @cached_property
    def api(self) -> JsonApi:
        """SQS as Lambda's poller calls it: the wire's JSON (binary attributes base64, as the
        event carries them), no botocore client (localcloud.endpoint.json_protocol)."""
        return self.clients.json_api("sqs")

    def status(self) -> dict[str, Any]:
        return {
            **super().status(),
            "concurrentBatches": self.in_flight,
            "maxConcurrentBatches": self.max_in_flight,
            "concurrencyTarget": self.target,
            "maximumConcurrency": self.spec.maximum_concurrency,
        }

    def run(self) -> None:
        idle = self.settings.idle_backoff()
        while not self.stopping.is_set():
            if not self._take_slot():
                break
            waited = False
            try:
                messages = self._receive_batch()
                waited = bool(self.settings.sqs_wait_seconds)  # a long poll has waited
            except (ClientError, BotoCoreError):
                log.exception(
                    "%s: could not receive from %s", self.spec.logical_id, self.queue_name
                )
                messages = []
            if not messages:
                self._release_slot()
                self._scale(quiet=True)
                if not waited:
                    self.stopping.wait(idle.next())
                continue
            idle.reset()
            if len(messages) >= min(self.spec.batch_size, RECEIVE_LIMIT):
                self._scale(busy=True)
            self._workers.submit(self._process, messages, time.monotonic())
        self._workers.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ concurrency
    def _take_slot(self) -> bool:
        with self._slots:
            while self.in_flight >= self.target and not self.stopping.is_set():
                self._slots.wait(0.2)
            if self.stopping.is_set():
                return False
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return True

    def _release_slot(self) -> None:
        with self._slots:
            self.in_flight -= 1
            self._slots.notify_all()

    def _scale(self, *, busy: bool = False, quiet: bool = False, backoff: bool = False) -> None:
        with self._slots:
            if backoff:
                self.target = max(min(2, self.cap), self.target // 2)
            elif quiet:
                self.target = self.floor
            elif busy:
                now = time.monotonic()
                per_second = self.settings.sqs_scale_up_per_minute / 60
                grow = int((now - self._last_scale_up) * per_second)
                if grow >= 1 and self.target < self.cap:
                    self.target = min(self.cap, self.target + grow)
                    self._last_scale_up = now
                elif self.target >= self.cap:
                    self._last_scale_up = now
            self._slots.notify_all()

    # ------------------------------------------------------------------ one batch
    def _receive_batch(self) -> list[dict[str, Any]]:
        messages = self._receive(self.spec.batch_size, wait=self.settings.sqs_wait_seconds)
        if not messages or len(messages) >= self.spec.batch_size:
            return messages
        window_ends = time.monotonic() + self.spec.batching_window_seconds
        while len(messages) < self.spec.batch_size and time.monotonic() < window_ends:
            if self.stopping.wait(self.settings.busy_poll_seconds * 5):
                break
            messages += self._receive(self.spec.batch_size - len(messages))
        return messages

    def _receive(self, wanted: int, wait: int = 0) -> list[dict[str, Any]]:
        answer = self.api.call(
            "ReceiveMessage",
            {
                "QueueUrl": self.queue_url,
                "MaxNumberOfMessages": min(wanted, RECEIVE_LIMIT),
                "WaitTimeSeconds": wait,
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def _process(self, messages: list[dict[str, Any]], received_at: float) -> None:
        try:
            self._deliver(messages, received_at)
        except Exception:
            log.exception("%s: batch of %d not delivered", self.spec.logical_id, len(messages))
        finally:
            self._release_slot()

    def _deliver(self, messages: list[dict[str, Any]], received_at: float) -> None:
        records = [self._record(m) for m in messages]
        matching = [r for r in records if self.spec.matches(r)]
        dropped = [r for r in records if not self.spec.matches(r)]
        done = list(dropped)  # Lambda deletes what its filters drop, unprocessed
        if matching:
            delivered = self._invoke_until_visible_again(matching, received_at)
            if delivered is None:
                self._scale(backoff=True)
            else:
                done += delivered
        self._delete_messages(done)

    def _invoke_until_visible_again(
        self, records: list[dict[str, Any]], received_at: float
    ) -> list[dict[str, Any]] | None:
        """The records to delete after invoking; None when the whole batch goes back."""
        throttle = self.settings.throttle_backoff()
        visible_again_at = received_at + self.visibility_timeout
        while True:
            answer = self.invoke(records)
            if answer.outcome is not Outcome.THROTTLED:
                break
            self._scale(backoff=True)
            wait = throttle.next()
            if time.monotonic() + wait >= visible_again_at or self.stopping.wait(wait):
                log.info(
                    "%s: batch of %d still throttled, back to the queue",
                    self.spec.logical_id,
                    len(records),
                )
                return None
        if answer.outcome is Outcome.FAILED:
            return None
        if answer.outcome is Outcome.PARTIAL:
            return [r for r in records if r["messageId"] not in answer.failed_ids]
        return records

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["messageId"])

    def _delete_messages(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), RECEIVE_LIMIT):
            self.api.call(
                "DeleteMessageBatch",
                {
                    "QueueUrl": self.queue_url,
                    "Entries": [
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                        for i, r in enumerate(records[start : start + RECEIVE_LIMIT])
                    ],
                },
            )

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


def queue_url(endpoint_url: str, queue_arn: str) -> str:
    return f"{endpoint_url}/{ACCOUNT_ID}/{queue_arn.rsplit(':', 1)[1]}"
