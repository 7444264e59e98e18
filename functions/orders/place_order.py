"""POST /v1/orders: place an order (202, PENDING); the saga prices, charges and confirms it.

Prices never come from the client: the saga's ReserveStock prices the order at catalog prices.
"""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from functools import partial
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.errors import IdempotencyKeyInUse, IdempotencyKeyReused, TooManyOrders
from orders.idempotency import IdempotentOrderPlacement
from orders.logic import new_order_id, place_order, utc_now
from orders.models import IDEMPOTENCY_KEY_PATTERN, OrderAccepted, PlaceOrder, PlaceOrderRequest
from orders.payment_token import KmsTokenSealer
from orders.placement_limit import PlacementLimit
from orders.repository import DynamoDBOrderEventStore, DynamoDBPlacementCounter
from orders.settings import PlaceOrderSettings
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, metrics, tracer
from shop_shared.sealing import KmsSealer
from shop_shared.settings import load_settings

settings = load_settings(PlaceOrderSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)
limit = PlacementLimit(
    limit=settings.placement_limit,
    window_seconds=settings.placement_limit_window_seconds,
    counter=DynamoDBPlacementCounter(settings.placement_limits_table_name),
    clock=utc_now,
)
kms = boto3.client("kms")  # one client for both keys
place = partial(
    place_order,
    store=store,
    clock=utc_now,
    new_id=new_order_id,
    seal=KmsTokenSealer(settings.payment_token_key_id, kms),  # only ChargePayment opens it
    address_sealer=KmsSealer(settings.customer_data_key_id, kms),  # only ScheduleShipment can
)


def place_within_limit(command: PlaceOrder) -> OrderAccepted:
    """Counted inside the idempotent call: a replayed Idempotency-Key is not counted again."""
    limit.admit(command.customerId)
    return place(command)


placement = IdempotentOrderPlacement(place_within_limit, table_name=settings.idempotency_table_name)
app = create_resolver()


@app.post(
    "/orders",
    **operation(
        IdempotencyKeyReused,
        IdempotencyKeyInUse,
        TooManyOrders,
        ok={202: "The order is placed (PENDING); the saga confirms or rejects it"},
    ),
)
@tracer.capture_method(capture_response=False)
def post_order(
    body: PlaceOrderRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)
    ] = None,
) -> Response[OrderAccepted]:
    command = PlaceOrder(
        customerId=current_caller(app).customer_id,
        idempotencyKey=idempotency_key,
        correlationId=app.current_event.request_context.request_id,
        request=body,
    )
    accepted = placement(command)
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
    placement.register_lambda_context(context)
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
