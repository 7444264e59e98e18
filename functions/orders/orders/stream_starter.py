"""Orders stream -> Step Functions: the batch handler of the workflow starter.

The template filters the starter's stream to the events that start a workflow; each record is
read into an OrderEventItem and given to the `start` command. A record that fails is reported
(ReportBatchItemFailures) and retried alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from orders.models import OrderEventItem
from shop_shared.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

StreamHandler = Callable[[dict[str, Any], "LambdaContext"], "PartialItemFailureResponse"]


def stream_starter_handler(
    start: Callable[[OrderEventItem], object], processor: BatchProcessor
) -> StreamHandler:
    """A Lambda handler that calls `start` for each stream record's new image, through
    `processor` (a BatchProcessor of DynamoDB stream records)."""

    @tracer.capture_method(capture_response=False)
    def record_handler(record: DynamoDBRecord) -> None:
        image = record.dynamodb.new_image if record.dynamodb else None
        start(OrderEventItem.model_validate(image or {}))

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler
