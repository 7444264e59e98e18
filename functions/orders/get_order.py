"""GET /v1/orders/{orderId}: the caller's order, or as it stood at `?asOf=<ISO time>`."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.errors import OrderNotFound
from orders.logic import get_order
from orders.models import OrderView
from orders.repository import DynamoDBOrderEventStore
from orders.settings import OrdersTableSettings
from shop_shared.http import create_resolver, current_caller, operation
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

settings = load_settings(OrdersTableSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)
app = create_resolver()


@app.get("/orders/<orderId>", **operation(OrderNotFound, ok={200: "The order"}))
@tracer.capture_method(capture_response=False)
def read_order(
    order_id: Annotated[UUID, Path(alias="orderId")],
    as_of: Annotated[datetime | None, Query(alias="asOf")] = None,
) -> OrderView:
    caller = current_caller(app)
    return get_order(str(order_id), customer_id=caller.customer_id, as_of=as_of, store=store)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
