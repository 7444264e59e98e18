"""Saga compensation RefundPayment: give an order's charge back, once.

Returns `$.refund` = {orderId, status}: REFUNDED, or NOT_CHARGED when there was no payment.
While the provider's circuit breaker is open a refund that needs the provider raises
PaymentProviderCircuitOpen (nothing was refunded yet; NOT_CHARGED needs no provider call).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from payments.logic import refund_payment, utc_now
from payments.models import RefundPaymentInput
from payments.provider import payment_provider
from payments.repository import DynamoDBPaymentRepository
from payments.settings import PaymentsSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(PaymentsSettings)
payments = DynamoDBPaymentRepository(settings.payments_table_name)
provider = payment_provider(settings)  # through the `payment-provider` circuit breaker


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RefundPaymentInput)
def handler(event: RefundPaymentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    result = refund_payment(event, payments=payments, provider=provider, clock=utc_now)
    return result.model_dump()


init_done()  # the last statement: see shop_shared.coldstart
