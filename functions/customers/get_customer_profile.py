"""Internal query GetCustomerProfile (not on the API): a customer's profile by customerId.

Invoked synchronously by the orders service (GET /v1/orders/{orderId}/details), which may not
read CustomersTable itself. Answers `{"customerId", "found", "profile"}`; a customer without a
profile is `found: false`, an answer rather than an error. Reads only (its role can do no more).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from customers.logic import find_customer_profile
from customers.models import GetCustomerProfileInput
from customers.repository import DynamoDBCustomersRepository
from customers.settings import CustomersSettings
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(CustomersSettings)
repository = DynamoDBCustomersRepository(settings.customers_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler(capture_response=False)  # a profile is personal data
@event_parser(model=GetCustomerProfileInput)
def handler(event: GetCustomerProfileInput, context: LambdaContext) -> dict[str, Any]:
    answer = find_customer_profile(event, repository=repository)
    logger.info("profile asked for", extra={"found": answer.found})
    return answer.model_dump(mode="json")


init_done()  # the last statement: see shop_shared.coldstart
