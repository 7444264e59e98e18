"""OrderSummariesQueue consumer: folds every order event (EventBridge rule on source shop.orders,
any detail-type) into the order's summary in OrderSummariesTable, the read model of GET /orders.

Idempotent and tolerant of order (see orders.read_model.logic.project_order_event). Partial
batch responses: only the records that failed are retried, then redriven to the DLQ.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from orders.read_model.logic import project_order_event
from orders.read_model.repository import DynamoDBOrderSummaryStore
from orders.read_model.settings import ProjectionSettings
from orders.repository import DynamoDBOrderEventStore
from shop_shared.bus import BusEventRecord
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(ProjectionSettings)
summaries = DynamoDBOrderSummaryStore(settings.order_summaries_table_name)
store = DynamoDBOrderEventStore(settings.orders_table_name)
processor = BatchProcessor(event_type=EventType.SQS, model=BusEventRecord)


@tracer.capture_method(capture_response=False)
def record_handler(record: BusEventRecord) -> None:
    event = record.body
    logger.set_correlation_id(event.correlation_id)
    outcome = project_order_event(event, summaries=summaries, store=store)
    logger.info(
        "order event handled", extra={"detail_type": event.detail_type, **outcome.model_dump()}
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


init_done()  # the last statement: see shop_shared.coldstart
