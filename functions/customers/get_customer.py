"""GET /v1/customers/me: the signed-in user's own profile (customerId = token `sub`)."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from customers import logic
from customers.errors import CustomerNotFound
from customers.models import CustomerProfile
from customers.repository import DynamoDBCustomersRepository
from customers.settings import CustomersSettings
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

settings = load_settings(CustomersSettings)
repository = DynamoDBCustomersRepository(settings.customers_table_name)
app = create_resolver()


@app.get("/customers/me", **operation(CustomerNotFound, ok={200: "Your profile"}))
@tracer.capture_method(capture_response=False)  # a profile is personal data
def get_my_profile() -> CustomerProfile:
    customer = logic.get_customer(current_caller(app).customer_id, repository=repository)
    return CustomerProfile.from_customer(customer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
