"""Orders stream -> Step Functions: starts the cancellation workflow for each
OrderCancellationRequested item.

The template filters the stream to OrderCancellationRequested INSERTs. The execution name is
`cancel-<orderId>`, so a redelivered record starts nothing new; a record that fails is reported
(ReportBatchItemFailures) and retried alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from orders.logic import start_order_cancellation
from orders.models import OrderEventItem
from orders.repository import StepFunctionsCancellationStarter
from orders.settings import CancellationStarterSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(CancellationStarterSettings)
starter = StepFunctionsCancellationStarter(settings.order_cancellation_state_machine_arn)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method(capture_response=False)
def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    start_order_cancellation(OrderEventItem.model_validate(image or {}), starter=starter)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
