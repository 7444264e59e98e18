"""Stream -> bus: puts the event items a table's stream carries onto the EventBridge bus.

Wired in the template as a DynamoDB event source with a filter on `itemType = EVENT`,
ReportBatchItemFailures and BisectBatchOnFunctionError. Publishing is at-least-once; consumers
are idempotent on `eventId`.

The events of one invocation go out in as few PutEvents calls as the API allows (up to 10
entries, their entry sizes under 256 KB), not one call per record. EventBridge answers each
entry on its own (`Entries[i]` is the i-th entry's result, `ErrorCode` on a refused one), so
a refused entry, or every entry of a call that failed as a whole, makes its record a batch item
failure (its SequenceNumber); the others count as published. Lambda retries the shard from the
lowest failed record, so the records after it are published again: consumers are idempotent on
`eventId`, so that duplicates; nothing is lost.

Why a custom processor: Powertools' BatchProcessor calls the record handler once per record
and decides success or failure from that call, so a record could only be published by its own
call. Powertools documents subclassing its processor for other processing ("Create your own
partial processor": `_prepare`, `_process_record`, `_clean`); `RelayBatchProcessor` uses those
hooks: the record handler turns a record into its PutEvents entry, `_clean` sends the entries
and registers each record's outcome with the base class's success/failure handlers before the
base class builds the partial response, so the response, the whole-batch-failed error and the
SequenceNumber identifiers stay Powertools' own.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import Field

from shop_shared.observability import logger, tracer
from shop_shared.settings import EnvSettings, load_settings

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import (
        PutEventsRequestEntryTypeDef,
        PutEventsResultEntryTypeDef,
    )

# PutEvents quotas (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html,
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
MAX_ENTRIES_PER_CALL = 10
MAX_CALL_BYTES = 256 * 1024  # the entries' total size must be less than this


class RelaySettings(EnvSettings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


class PublishFailed(Exception):
    """EventBridge refused the entry; the record is reported as failed and retried."""


def to_entry(image: dict[str, Any], bus_name: str) -> PutEventsRequestEntryTypeDef:
    return {
        "Source": image["source"],
        "DetailType": image["detailType"],
        "Detail": image["detail"],
        "EventBusName": bus_name,
    }


def entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    """The size EventBridge counts for an entry: Time 14 bytes, Source, DetailType, Detail and
    each of the Resources their UTF-8 bytes."""
    size = 14 if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    size += len(entry.get("Detail", "").encode())
    size += sum(len(resource.encode()) for resource in entry.get("Resources", []))
    return size


def chunks(
    entries: Sequence[PutEventsRequestEntryTypeDef],
) -> Iterator[tuple[int, int]]:
    """(start, end) slices of `entries`, in order, each one PutEvents call: at most 10 entries
    whose sizes add up to less than 256 KB. An entry too large on its own goes alone (and
    EventBridge refuses it, as it would alone)."""
    start, size = 0, 0
    for index, entry in enumerate(entries):
        grown = size + entry_size(entry)
        if index > start and (index - start == MAX_ENTRIES_PER_CALL or grown >= MAX_CALL_BYTES):
            yield start, index
            start, grown = index, entry_size(entry)
        size = grown
    if start < len(entries):
        yield start, len(entries)


@dataclass(frozen=True)
class Outgoing:
    """What the record handler makes of an event item: its entry, and its id for the logs."""

    event_id: str | None
    entry: PutEventsRequestEntryTypeDef


@dataclass(frozen=True)
class _Pending:
    record: dict[str, Any]  # as Lambda delivered it
    data: DynamoDBRecord  # what the failure handler reports (its SequenceNumber)
    outgoing: Outgoing


class RelayBatchProcessor(BatchProcessor):
    """A DynamoDB-stream BatchProcessor whose record handler returns the record's Outgoing
    entry (None: nothing to publish); the entries are sent together, up to 10 a call, once every
    record was read, and each record succeeds or fails with its own entry."""

    def __init__(self, events: EventBridgeClient) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)
        self._events = events
        self._pending: list[_Pending] = []

    def _prepare(self) -> None:
        super()._prepare()
        self._pending = []

    def _process_record(self, record: dict[str, Any]) -> Any:
        data: DynamoDBRecord | None = None
        try:
            data = DynamoDBRecord(record)
            outgoing: Outgoing | None = self.handler(record=data)
        except Exception:
            return self.failure_handler(record=data, exception=sys.exc_info())
        if outgoing is None:
            return self.success_handler(record=record, result=None)
        self._pending.append(_Pending(record=record, data=data, outgoing=outgoing))
        return ("pending", outgoing, record)

    def _clean(self) -> None:
        pending, self._pending = self._pending, []
        for start, end in chunks([p.outgoing.entry for p in pending]):
            self._publish(pending[start:end])
        super()._clean()  # the partial response, from the outcomes registered above

    @tracer.capture_method(capture_response=False)
    def _publish(self, batch: list[_Pending]) -> None:
        try:
            result = self._events.put_events(Entries=[p.outgoing.entry for p in batch])
        except Exception:
            exception = sys.exc_info()
            logger.warning(
                "events not relayed: PutEvents failed",
                extra={"event_ids": [p.outgoing.event_id for p in batch]},
                exc_info=exception,
            )
            for item in batch:
                self.failure_handler(record=item.data, exception=exception)
            return
        answers: list[PutEventsResultEntryTypeDef] = result.get("Entries", [])
        for index, item in enumerate(batch):
            answer = answers[index] if index < len(answers) else {}
            extra = {
                "event_id": item.outgoing.event_id,
                "detail_type": item.outgoing.entry["DetailType"],
            }
            error_code = answer.get("ErrorCode")
            if error_code or "EventId" not in answer:
                message = f"{error_code or 'NoResult'}: {answer.get('ErrorMessage', '')}"
                logger.warning("event not relayed", extra={**extra, "error": message})
                failure = PublishFailed(message)
                self.failure_handler(record=item.data, exception=(PublishFailed, failure, None))
                continue
            logger.info("event relayed", extra=extra)
            self.success_handler(record=item.record, result=answer["EventId"])


settings = load_settings(RelaySettings)
events_client = boto3.client("events")
processor = RelayBatchProcessor(events_client)


@tracer.capture_method(capture_response=False)
def record_handler(record: DynamoDBRecord) -> Outgoing | None:
    """The record's PutEvents entry; None for an item that is not an event."""
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image or image.get("itemType") != "EVENT":
        return None
    return Outgoing(event_id=image.get("eventId"), entry=to_entry(image, settings.event_bus_name))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


init_done()  # the last statement: see shop_shared.coldstart
