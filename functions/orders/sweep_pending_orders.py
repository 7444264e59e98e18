"""Scheduled (EventBridge Scheduler, template: SweepPendingOrdersFunction): starts the saga of
each order left PENDING without one (orders.sweeper).

Returns {pending, started}; the schedule ignores it. Idempotent: a second run starts nothing
new (the execution name is the order id; on EXPRESS the saga's claim ends a duplicate).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orders.logic import utc_now
from orders.repository import (
    DynamoDBOrderEventStore,
    DynamoDBPlacedOrders,
    StepFunctionsSagaStarter,
)
from orders.settings import PendingOrderSweeperSettings
from orders.sweeper import sweep_pending_orders
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(PendingOrderSweeperSettings)
store = DynamoDBOrderEventStore(settings.orders_table_name)
placed = DynamoDBPlacedOrders(settings.orders_table_name)
# A run starts a saga only for an order left without one: the client is made then.
starter = StepFunctionsSagaStarter(settings.order_saga_state_machine_arn, rarely_used=True)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweep_pending_orders(
        now=utc_now(),
        after=timedelta(seconds=settings.sweep_after_seconds),
        lookback=timedelta(hours=settings.lookback_hours),
        placed=placed,
        store=store,
        starter=starter,
    )
    return result.model_dump()


init_done()  # the last statement: see shop_shared.coldstart
