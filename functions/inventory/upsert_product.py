"""PUT /v1/products/{sku} (admin group): create or replace a product and set its stock."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import logic
from inventory.errors import ConcurrentModification
from inventory.models import SKU_PATTERN, ProductResponse, UpsertProductRequest
from inventory.repository import DynamoDBInventoryRepository
from inventory.settings import InventorySettings
from shop_shared.http import create_resolver, operation
from shop_shared.observability import logger, metrics, tracer
from shop_shared.settings import load_settings

settings = load_settings(InventorySettings)
repository = DynamoDBInventoryRepository(settings.inventory_table_name)
app = create_resolver()


@app.put(
    "/products/<sku>",
    **operation(
        ConcurrentModification,
        ok={200: "The product was replaced", 201: "The product was created"},
        admin=True,  # a non-admin is refused (403) before the request is read
    ),
)
@tracer.capture_method
def upsert_product(
    sku: Annotated[str, Path(pattern=SKU_PATTERN)], product: UpsertProductRequest
) -> Response[ProductResponse]:
    outcome = logic.upsert_product(
        sku,
        product,
        repository=repository,
        correlation_id=app.current_event.request_context.request_id,
        now=datetime.now(UTC),
    )
    metrics.add_metric(name="ProductUpserted", unit=MetricUnit.Count, value=1)
    logger.info("product upserted", extra={"sku": sku, "was_created": outcome.created})
    return Response(
        status_code=201 if outcome.created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=ProductResponse.from_product(outcome.product),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
