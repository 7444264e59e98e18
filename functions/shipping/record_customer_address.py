"""ShippingQueue consumer: keeps each customer's registered address from CustomerRegistered.

Each SQS body is an EventBridge event. Partial batch responses: only failed records are
retried (then the DLQ). Powertools Idempotency on the event's `metadata.eventId` runs each event
once; the "newer wins" condition in the repository keeps a late, older event from overwriting.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from shipping import logic
from shipping.repository import DynamoDBShippingRepository
from shipping.settings import AddressOpenerSettings
from shop_shared.bus import BusEvent, BusEventRecord
from shop_shared.idempotency import event_idempotency
from shop_shared.observability import logger, metrics, tracer
from shop_shared.sealing import KmsOpener
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(AddressOpenerSettings)
repository = DynamoDBShippingRepository(settings.shipping_table_name)
opener = KmsOpener(settings.customer_data_key_id)  # CustomerRegistered's sealed address
processor = BatchProcessor(event_type=EventType.SQS, model=BusEventRecord)
idempotency = event_idempotency(settings.shipping_table_name)


@idempotent_function(
    data_keyword_argument="event",
    config=idempotency.config,
    persistence_store=idempotency.persistence,
)
def process_event(event: BusEvent) -> dict[str, Any]:
    """Runs once per eventId; a duplicate gets the first run's outcome back from the record."""
    outcome = logic.record_customer_address(event, repository=repository, opener=opener)
    if outcome.action == "address_saved":
        metrics.add_metric(name="CustomerAddressRecorded", unit=MetricUnit.Count, value=1)
    return outcome.model_dump()


@tracer.capture_method(capture_response=False)
def record_handler(record: BusEventRecord) -> None:
    event = record.body
    logger.set_correlation_id(event.correlation_id)
    outcome = process_event(event=event)
    logger.info("event handled", extra={"detail_type": event.detail_type, **outcome})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


init_done()  # the last statement: see shop_shared.coldstart
