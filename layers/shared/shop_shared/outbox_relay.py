"""Stream -> bus: puts each event item a table's stream carries onto the EventBridge bus.

Wired in the template as a DynamoDB event source with a filter on `itemType = EVENT` and
ReportBatchItemFailures, so a record that fails is retried from there and the others are not
published twice. Publishing is at-least-once; consumers are idempotent on `eventId`.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from shop_shared.observability import logger, tracer
from shop_shared.settings import EnvSettings, load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


class RelaySettings(EnvSettings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


class PublishFailed(Exception):
    """EventBridge refused the entry; the record is reported as failed and retried."""


settings = load_settings(RelaySettings)
events_client = boto3.client("events")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def to_entry(image: dict[str, Any], bus_name: str) -> PutEventsRequestEntryTypeDef:
    return {
        "Source": image["source"],
        "DetailType": image["detailType"],
        "Detail": image["detail"],
        "EventBusName": bus_name,
    }


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image or image.get("itemType") != "EVENT":
        return
    result = events_client.put_events(Entries=[to_entry(image, settings.event_bus_name)])
    if result.get("FailedEntryCount"):
        failure = result["Entries"][0]
        raise PublishFailed(f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
    logger.info(
        "event relayed",
        extra={"event_id": image.get("eventId"), "detail_type": image.get("detailType")},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


init_done()  # the last statement: see shop_shared.coldstart
