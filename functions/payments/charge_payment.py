"""Saga step ChargePayment: charge the reserved total with the payment provider, once.

Returns `$.payment` = {paymentId, amountCents, currency, status}. Raises PaymentDeclined (a
business outcome, not retried), PaymentProviderUnavailable (transient, retried by the saga) or
PaymentProviderCircuitOpen (the provider's breaker is open: it was not called, not retried).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from payments.logic import charge_payment, utc_now
from payments.models import ChargePaymentInput
from payments.payment_token import KmsTokenOpener
from payments.provider import payment_provider
from payments.repository import DynamoDBPaymentRepository
from payments.settings import ChargePaymentSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(ChargePaymentSettings)
payments = DynamoDBPaymentRepository(settings.payments_table_name)
provider = payment_provider(settings)  # through the `payment-provider` circuit breaker
open_token = KmsTokenOpener(settings.payment_token_key_id)  # only this role may Decrypt


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ChargePaymentInput)
def handler(event: ChargePaymentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    result = charge_payment(
        event, payments=payments, provider=provider, clock=utc_now, open_token=open_token
    )
    return result.model_dump()


init_done()  # the last statement: see shop_shared.coldstart
