"""Saga step ScheduleShipment: schedule the order's shipment with a carrier, once.

Returns `$.shipment` = {orderId, status, carrier, trackingId, country}. Raises
ShippingUnavailable (no address, or a country we don't serve: not retried by the saga); the
errorType Lambda reports is the exception's class name.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from shipping import logic
from shipping.models import ScheduleShipmentInput, ShipmentResult
from shipping.repository import DynamoDBShippingRepository
from shipping.settings import AddressOpenerSettings
from shop_shared.observability import logger, metrics, tracer
from shop_shared.sealing import KmsOpener
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(AddressOpenerSettings)
repository = DynamoDBShippingRepository(settings.shipping_table_name)
opener = KmsOpener(settings.customer_data_key_id)  # the order's sealed shipping address


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScheduleShipmentInput)
def handler(event: ScheduleShipmentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    shipment = logic.schedule_shipment(
        event,
        repository=repository,
        opener=opener,
        clock=logic.utc_now,
        new_id=logic.new_tracking_id,
    )
    metrics.add_metric(name="ShipmentScheduled", unit=MetricUnit.Count, value=1)
    return ShipmentResult.of(shipment).model_dump()


init_done()  # the last statement: see shop_shared.coldstart
