"""GET /v1/products: the public catalog, a page at a time in SKU order (`?limit=&cursor=`)."""

from shop_shared.coldstart import init_done

# No `from __future__ import annotations`: the Event Handler reads the route's annotations at
# run time through the tracer's wrapper, whose globals are not this module's.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import logic
from inventory.models import (
    DEFAULT_PAGE_SIZE,
    MAX_CURSOR_LENGTH,
    MAX_PAGE_SIZE,
    ProductListResponse,
)
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
    "/products",
    middlewares=[cache],
    **may_be_not_modified(operation(ok={200: "One page of the catalog"})),
)
@tracer.capture_method(capture_response=False)  # up to 100 products: too large to trace
def list_products(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Products per page (1 to 100)")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="The nextCursor of the previous page",
        ),
    ] = None,
) -> ProductListResponse:
    page = logic.list_products(limit, cursor, catalog=repository)
    return ProductListResponse.from_page(page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_done()  # the last statement: see shop_shared.coldstart
