"""Internal query GetShipment (not on the API): an order's shipment by orderId.

Invoked synchronously by the orders service (GET /v1/orders/{orderId}/details), which may not
read ShippingTable itself. Answers `{"orderId", "found", "shipment": {status, carrier,
trackingId, country}}`; an order with no shipment (or only a cancellation's tombstone) is
`found: false`, an answer rather than an error. Reads only (its role can do no more).
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import event_parser

from shipping import logic
from shipping.models import GetShipmentInput
from shipping.repository import DynamoDBShippingRepository
from shipping.settings import ShippingSettings
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = load_settings(ShippingSettings)
repository = DynamoDBShippingRepository(settings.shipping_table_name)


@logger.inject_lambda_context(correlation_id_path="correlationId")
@tracer.capture_lambda_handler
@event_parser(model=GetShipmentInput)
def handler(event: GetShipmentInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.orderId)
    answer = logic.find_shipment(event, repository=repository)
    logger.info("shipment asked for", extra={"found": answer.found})
    return answer.model_dump(mode="json")


init_done()  # the last statement: see shop_shared.coldstart
