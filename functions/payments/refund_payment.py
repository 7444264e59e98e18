"""Saga compensation RefundPayment: give an order's charge back, once.

Returns `$.refund` = {orderId, status}: REFUNDED, or NOT_CHARGED when there was no payment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from payments.logic import refund_payment, utc_now
from payments.models import RefundPaymentInput
from payments.provider import HttpPaymentProvider, api_key_from_secret
from payments.repository import DynamoDBPaymentRepository
from payments.settings import PaymentsSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(PaymentsSettings)
payments = DynamoDBPaymentRepository(settings.payments_table_name)
provider = HttpPaymentProvider(
    settings.payment_provider_base_url,
    api_key_from_secret(settings.payment_provider_api_key_secret_arn),
)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RefundPaymentInput)
def handler(event: RefundPaymentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    result = refund_payment(event, payments=payments, provider=provider, clock=utc_now)
    return result.model_dump()
