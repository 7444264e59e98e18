"""Saga step ConfirmOrder: a PENDING order becomes CONFIRMED at the reserved total.

Idempotent: an order that is already CONFIRMED is left as it is and the same result returned.
Returns `$.confirmation` = {orderId, status}.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from orders.logic import confirm_order, utc_now
from orders.models import ConfirmOrderInput
from orders.repository import DynamoDBOrderEventStore
from orders.settings import OrdersTableSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(OrdersTableSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ConfirmOrderInput)
def handler(event: ConfirmOrderInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    return confirm_order(event, store=store, clock=utc_now).model_dump()


init_done()  # the last statement: see shop_shared.coldstart
