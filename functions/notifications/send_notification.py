"""NotificationsQueue consumer: each SQS body is an EventBridge event (CustomerRegistered,
OrderConfirmed, OrderRejected). Partial batch responses: only failed records are retried."""

from __future__ import annotations

from shop_shared.coldstart import init_done

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from notifications import logic
from notifications.errors import ContactNotFound
from notifications.mailer import SesMailer
from notifications.repository import DynamoDBNotificationsRepository
from notifications.settings import NotificationsSettings
from shop_shared.bus import BusEvent, BusEventRecord
from shop_shared.idempotency import event_idempotency
from shop_shared.observability import logger, metrics, tracer
from shop_shared.sealing import KmsOpener
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(NotificationsSettings)
repository = DynamoDBNotificationsRepository(settings.notifications_table_name)
mailer = SesMailer(sender=settings.sender_email)
opener = KmsOpener(settings.customer_data_key_id)  # CustomerRegistered's sealed email
# A batch whose every record failed is answered like any other partial failure (each record
# listed, SQS redelivers them), not raised: a whole batch of not-yet-known contacts is an
# expected business case, not a function error with a traceback.
processor = BatchProcessor(
    event_type=EventType.SQS, model=BusEventRecord, raise_on_entire_batch_failure=False
)
idempotency = event_idempotency(settings.notifications_table_name)


@idempotent_function(
    data_keyword_argument="event",
    config=idempotency.config,
    persistence_store=idempotency.persistence,
)
def process_event(event: BusEvent) -> dict[str, Any]:
    """Runs once per eventId; a duplicate gets the first run's outcome back from the record."""
    outcome = logic.handle_event(
        event, repository=repository, mailer=mailer, opener=opener, now=datetime.now(UTC)
    )
    if outcome.action == "sent":
        metrics.add_metric(name="NotificationSent", unit=MetricUnit.Count, value=1)
    return outcome.model_dump()


@tracer.capture_method(capture_response=False)
def record_handler(record: BusEventRecord) -> None:
    event = record.body
    logger.set_correlation_id(event.correlation_id)
    if not logic.is_handled(event.detail_type):
        logger.info("event ignored", extra={"detail_type": event.detail_type, "id": event.id})
        return
    try:
        outcome = process_event(event=event)
    except ContactNotFound as missing:
        # Expected: the customer's CustomerRegistered has not arrived yet (SQS retries the
        # record), or the customer never registered (the record ends in the DLQ).
        logger.warning(
            "contact not found; record retried",
            extra={"detail_type": event.detail_type, "id": event.id, "error": missing.code},
        )
        raise
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
