"""POST /v1/customers: the signed-in user registers their profile (customerId = token `sub`)."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from customers import logic
from customers.errors import CustomerExists, EmailMismatch, EmailNotVerified
from customers.models import CustomerProfile, RegisterCustomerRequest
from customers.repository import DynamoDBCustomersRepository
from customers.settings import RegisterCustomerSettings
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, metrics, tracer
from shop_shared.sealing import KmsSealer
from shop_shared.settings import load_settings

settings = load_settings(RegisterCustomerSettings)
repository = DynamoDBCustomersRepository(settings.customers_table_name)
sealer = KmsSealer(settings.customer_data_key_id)
app = create_resolver()


@app.post(
    "/customers",
    **operation(
        CustomerExists,
        EmailNotVerified,
        EmailMismatch,
        ok={201: "Your profile, registered, with your account's verified email"},
    ),
)
@tracer.capture_method(capture_response=False)
def register_customer(profile: RegisterCustomerRequest) -> Response[CustomerProfile]:
    caller = current_caller(app)
    customer = logic.register_customer(
        caller.customer_id,
        profile,
        verified_email=caller.email if caller.email_verified else None,
        repository=repository,
        sealer=sealer,
        correlation_id=app.current_event.request_context.request_id,
        now=datetime.now(UTC),
    )
    metrics.add_metric(name="CustomerRegistered", unit=MetricUnit.Count, value=1)
    logger.info("customer registered", extra={"customer_id": customer.customer_id})
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=CustomerProfile.from_customer(customer),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
