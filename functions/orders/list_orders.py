"""GET /v1/orders: the caller's orders, newest first, from the read model (OrderSummariesTable).

`?limit=` 1..100 (default 20); `?cursor=` is the `nextCursor` of the previous page. The list
follows the order events by the projection's lag (bench/order_summary_lag.py measures it);
GET /v1/orders/{orderId} reads the event store itself.
"""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parameters import get_secret
from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.read_model.logic import list_orders
from orders.read_model.models import CURSOR_PATTERN, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, OrderList
from orders.read_model.repository import DynamoDBOrderSummaryStore
from orders.read_model.settings import ListOrdersSettings
from shop_shared.http import create_resolver, current_caller
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

settings = load_settings(ListOrdersSettings)
CURSOR_KEY_MAX_AGE_SECONDS = 300  # a rotated key is used within five minutes
summaries = DynamoDBOrderSummaryStore(settings.order_summaries_table_name)
app = create_resolver()


@app.get("/orders")
@tracer.capture_method(capture_response=False)
def list_my_orders(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Orders per page (1 to 100)")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="The nextCursor of the previous page"),
    ] = None,
) -> OrderList:
    caller = current_caller(app)
    return list_orders(
        caller.customer_id,
        limit=limit,
        cursor=cursor,
        summaries=summaries,
        cursor_key=cursor_key(),
    )


def cursor_key() -> bytes:
    """The key that signs page cursors, from Secrets Manager (Powertools caches it)."""
    key = get_secret(settings.cursor_key_secret_arn, max_age=CURSOR_KEY_MAX_AGE_SECONDS)
    return key.encode() if isinstance(key, str) else bytes(key)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
