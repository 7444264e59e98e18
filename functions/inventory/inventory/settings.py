"""The inventory functions' settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings

MAX_CATALOG_MAX_AGE_SECONDS = 3600  # API Gateway's longest cache TTL; template parameter's bound


class InventorySettings(EnvSettings):
    inventory_table_name: str = Field(alias="INVENTORY_TABLE_NAME", min_length=3)


class CatalogSettings(InventorySettings):
    """GET /products and /products/{sku}: how long a client may reuse an answer (max-age),
    the template's CatalogCacheTtlSeconds, also the API Gateway stage cache's TTL in prod."""

    catalog_max_age_seconds: int = Field(
        alias="CATALOG_MAX_AGE_SECONDS", ge=0, le=MAX_CATALOG_MAX_AGE_SECONDS
    )
