"""The inventory functions' settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class InventorySettings(EnvSettings):
    inventory_table_name: str = Field(alias="INVENTORY_TABLE_NAME", min_length=3)
