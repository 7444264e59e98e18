"""Saga compensation CancelShipment: cancel the order's shipment, once.

Returns `$.shipmentCancellation` = {orderId, status: "CANCELLED", trackingId}, also when
nothing was scheduled (a tombstone then keeps a late ScheduleShipment from scheduling; see
shipping.logic).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from shipping import logic
from shipping.models import CancellationResult, CancelShipmentInput
from shipping.repository import DynamoDBShippingRepository
from shipping.settings import ShippingSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(ShippingSettings)
repository = DynamoDBShippingRepository(settings.shipping_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CancelShipmentInput)
def handler(event: CancelShipmentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    shipment = logic.cancel_shipment(event, repository=repository, clock=logic.utc_now)
    metrics.add_metric(name="ShipmentCancelled", unit=MetricUnit.Count, value=1)
    return CancellationResult.of(shipment).model_dump()


init_done()  # the last statement: see shop_shared.coldstart
