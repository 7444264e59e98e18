"""POST /v1/orders/{orderId}/cancel: the owner cancels a CONFIRMED order (202, CANCELLING).

The cancellation workflow (started from the orders stream, execution `cancel-<orderId>`) cancels
the shipment, refunds the payment, gives the stock back and marks the order CANCELLED. Any other
status is 409 ORDER_NOT_CANCELLABLE, a cancellation already under way included; another
customer's order is 404, as it is for GET.
"""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.errors import ConcurrentModification, OrderNotCancellable, OrderNotFound
from orders.logic import request_cancellation, utc_now
from orders.models import OrderCancellationAccepted
from orders.repository import DynamoDBOrderEventStore
from orders.settings import OrdersTableSettings
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

settings = load_settings(OrdersTableSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)
app = create_resolver()


@app.post(
    "/orders/<orderId>/cancel",
    **operation(
        OrderNotFound,
        OrderNotCancellable,
        ConcurrentModification,
        ok={202: "The cancellation is under way (the order is CANCELLING)"},
    ),
)
@tracer.capture_method(capture_response=False)
def cancel_order(
    order_id: Annotated[UUID, Path(alias="orderId")],
) -> Response[OrderCancellationAccepted]:
    accepted = request_cancellation(
        str(order_id),
        customer_id=current_caller(app).customer_id,
        correlation_id=app.current_event.request_context.request_id,
        store=store,
        clock=utc_now,
    )
    metrics.add_metric(name="OrderCancellationRequested", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=accepted,
        headers={"Location": f"/v1/orders/{accepted.orderId}"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
