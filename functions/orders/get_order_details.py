"""GET /v1/orders/{orderId}/details: the caller's order with its customer, payment and shipment.

The order is read from orders' own event store (404 when it is missing or another customer's);
the other three parts are asked of their owning services' query functions in parallel, each
call with short timeouts and no retries, behind that service's circuit breaker. A part whose
service fails, times out or is behind an open breaker is `{"status": "unavailable"}`, and the
answer is still 200 with the other parts intact.
"""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.details.clients import owning_services, part_breakers
from orders.details.logic import get_order_details
from orders.details.models import OrderDetails
from orders.details.settings import OrderDetailsSettings
from orders.errors import OrderNotFound
from orders.repository import DynamoDBOrderEventStore
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

settings = load_settings(OrderDetailsSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)
services = owning_services(settings)
breakers = part_breakers(settings)  # module level: their caches live as long as the environment
# Three parts per request; room for three more, should a call outlive its deadline.
executor = ThreadPoolExecutor(max_workers=6, thread_name_prefix="order-details")
app = create_resolver()


@app.get(
    "/orders/<orderId>/details",
    **operation(
        OrderNotFound,
        ok={
            200: "The order with its parts; a part whose service did not answer is "
            '`{"status": "unavailable"}`, one with nothing to show `{"status": "none"}`'
        },
    ),
)
@tracer.capture_method(capture_response=False)  # a profile is personal data
def read_order_details(order_id: Annotated[UUID, Path(alias="orderId")]) -> OrderDetails:
    return get_order_details(
        str(order_id),
        customer_id=current_caller(app).customer_id,
        correlation_id=app.current_event.request_context.request_id,
        store=store,
        services=services,
        breakers=breakers,
        executor=executor,
        deadline_seconds=settings.parts_deadline_seconds,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
