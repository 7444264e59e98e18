"""GET /v1/products/{sku}: one product of the catalog with its available stock."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import logic
from inventory.errors import ProductNotFound
from inventory.models import SKU_PATTERN, ProductResponse
from inventory.repository import DynamoDBInventoryRepository
from inventory.settings import CatalogSettings
from shop_shared.http import create_resolver, operation
from shop_shared.http_cache import PublicCache, may_be_not_modified
from shop_shared.observability import logger, tracer
from shop_shared.settings import load_settings

settings = load_settings(CatalogSettings)
repository = DynamoDBInventoryRepository(settings.inventory_table_name)
app = create_resolver()
cache = PublicCache(settings.catalog_max_age_seconds)


@app.get(
    "/products/<sku>",
    middlewares=[cache],
    **may_be_not_modified(operation(ProductNotFound, ok={200: "The product"})),
)
@tracer.capture_method
def get_product(sku: Annotated[str, Path(pattern=SKU_PATTERN)]) -> ProductResponse:
    return ProductResponse.from_product(logic.get_product(sku, repository=repository))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
