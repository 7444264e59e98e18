"""Internal query GetPayment (not on the API): an order's payment by orderId.

Invoked synchronously by the orders service (GET /v1/orders/{orderId}/details), which may not
read PaymentsTable itself. Answers `{"orderId", "found", "payment": {paymentId, amountCents,
currency, status}}`; an order never charged is `found: false`, an answer rather than an error.
Reads only (its role can do no more), and never calls the payment provider.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from payments.logic import find_payment
from payments.models import GetPaymentInput
from payments.repository import DynamoDBPaymentRepository
from payments.settings import PaymentsTableSettings
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(PaymentsTableSettings)
payments = DynamoDBPaymentRepository(settings.payments_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@event_parser(model=GetPaymentInput)
def handler(event: GetPaymentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    answer = find_payment(event, payments=payments)
    logger.info("payment asked for", extra={"found": answer.found})
    return answer.model_dump(mode="json")


init_done()  # the last statement: see shop_shared.coldstart
