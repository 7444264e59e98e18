"""Saga compensation ReleaseStock: give an order's reserved stock back, once.

Returns `$.release` = {orderId, status: "RELEASED"}, also when nothing was reserved (a
tombstone then keeps a late ReserveStock from reserving; see inventory.logic).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from inventory import logic
from inventory.models import ReleaseResult, ReleaseStockInput
from inventory.repository import DynamoDBInventoryRepository
from inventory.settings import InventorySettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(InventorySettings)
repository = DynamoDBInventoryRepository(settings.inventory_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ReleaseStockInput)
def handler(event: ReleaseStockInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    reservation = logic.release_stock(event, repository=repository, now=datetime.now(UTC))
    metrics.add_metric(name="StockReleased", unit=MetricUnit.Count, value=1)
    return ReleaseResult(orderId=reservation.order_id).model_dump()


init_done()  # the last statement: see shop_shared.coldstart
