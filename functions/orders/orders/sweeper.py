"""The pending-order sweeper: an order whose saga never started gets one.

An OrderPlaced stream record can be lost (a poller gave up after its retries, a starter kept
failing, a record went to the on-failure queue and nobody redrove it): without a saga the order
stays PENDING for ever. Run on a schedule, the sweeper looks at the orders placed within the
lookback window and longer ago than the threshold; one still PENDING that no saga claimed gets
its saga started, with the same name and input as the starter gives it (the execution name
keeps a STANDARD saga once-only; on EXPRESS the saga's claim does). Every run reports how many
it started (metric OrdersSwept): any is a start that was lost somewhere, and alarms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from orders.logic import start_order_saga
from shop_shared.models import ShopModel
from shop_shared.observability import logger, metrics

if TYPE_CHECKING:
    from datetime import datetime

    from orders.repository import OrderEventStore, PlacedOrders, SagaStarter


class SweepResult(ShopModel):
    pending: int  # orders past the threshold and still PENDING
    started: int  # of those, the ones whose saga this run asked Step Functions to start


def sweep_pending_orders(
    *,
    now: datetime,
    after: timedelta,
    lookback: timedelta,
    placed: PlacedOrders,
    store: OrderEventStore,
    starter: SagaStarter,
) -> SweepResult:
    pending = started = 0
    for order_id in placed.placed_between(now - lookback, now - after):
        history = store.history(order_id)
        if len(history) != 1:  # a later event: the order was decided (or is being undone)
            continue
        pending += 1
        if placed.saga_claimed(order_id):  # its saga runs (or ran and is stuck: its alarms)
            continue
        if start_order_saga(history[0], starter=starter):
            started += 1
            logger.warning(
                "saga started for a forgotten order",
                extra={"order_id": order_id, "placed_at": history[0].occurredAt},
            )
    metrics.add_metric(name="OrdersSwept", unit=MetricUnit.Count, value=started)
    logger.info("pending orders swept", extra={"pending": pending, "started": started})
    return SweepResult(pending=pending, started=started)
