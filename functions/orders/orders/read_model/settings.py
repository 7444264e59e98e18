"""The read model's functions' environment, validated once per cold start (see template.yaml)."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class OrderSummariesSettings(EnvSettings):
    """list_orders."""

    order_summaries_table_name: str = Field(alias="ORDER_SUMMARIES_TABLE_NAME", min_length=1)


class ListOrdersSettings(OrderSummariesSettings):
    """list_orders: the key that signs its page cursors is a secret of the template's."""

    cursor_key_secret_arn: str = Field(alias="ORDER_LIST_CURSOR_KEY_SECRET_ARN", min_length=1)


class ProjectionSettings(OrderSummariesSettings):
    """project_order_summary: writes summaries, reads the event store to fill a gap."""

    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
