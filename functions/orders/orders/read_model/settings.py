"""The read model's functions' environment, validated once per cold start (see template.yaml)."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class OrderSummariesSettings(EnvSettings):
    """list_orders."""

    order_summaries_table_name: str = Field(alias="ORDER_SUMMARIES_TABLE_NAME", min_length=1)


class ProjectionSettings(OrderSummariesSettings):
    """project_order_summary: writes summaries, reads the event store to fill a gap."""

    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
