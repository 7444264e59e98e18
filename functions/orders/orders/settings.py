"""Each function's environment, validated once per cold start (names as in template.yaml)."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class OrdersTableSettings(EnvSettings):
    """get_order, cancel_order and the workflow tasks of the orders service."""

    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)


class PlaceOrderSettings(OrdersTableSettings):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)


class WorkflowStarterSettings(EnvSettings):
    """start_order_workflows: the two state machines it may start, and nothing else."""

    order_saga_state_machine_arn: str = Field(
        alias="ORDER_SAGA_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
    order_cancellation_state_machine_arn: str = Field(
        alias="ORDER_CANCELLATION_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
