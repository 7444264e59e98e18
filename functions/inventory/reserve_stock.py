"""Saga step ReserveStock: reserve every line of an order at catalog prices, all or nothing.

Returns `$.reservation` = {lines, totalCents, currency}. Raises OutOfStock (not retried by the
saga) when a line is short; the errorType Lambda reports is the exception's class name.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from inventory import logic
from inventory.models import ReservationResult, ReserveStockInput
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
@event_parser(model=ReserveStockInput)
def handler(event: ReserveStockInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    reservation = logic.reserve_stock(event, repository=repository, now=datetime.now(UTC))
    metrics.add_metric(name="StockReserved", unit=MetricUnit.Count, value=1)
    return ReservationResult.from_reservation(reservation).model_dump()


init_done()  # the last statement: see shop_shared.coldstart
