"""The shipping functions' settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class ShippingSettings(EnvSettings):
    shipping_table_name: str = Field(alias="SHIPPING_TABLE_NAME", min_length=3)
