"""Each function's environment, validated once per cold start (names as in template.yaml)."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class OrdersTableSettings(EnvSettings):
    """get_order, cancel_order and the workflow tasks of the orders service."""

    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)


class PlaceOrderSettings(OrdersTableSettings):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    # The payment-token KMS key (its ARN): the card token is sealed with it at once.
    payment_token_key_id: str = Field(alias="PAYMENT_TOKEN_KEY_ID", min_length=1)
    # The customer-data KMS key (its ARN): the order's shipping address goes on the bus and to
    # the saga sealed with it (only ScheduleShipment can open it).
    customer_data_key_id: str = Field(alias="CUSTOMER_DATA_KEY_ID", min_length=1)
    # Orders one customer may place per window (template: OrderPlacementLimit*).
    placement_limits_table_name: str = Field(
        alias="ORDER_PLACEMENT_LIMITS_TABLE_NAME", min_length=1
    )
    placement_limit: int = Field(alias="ORDER_PLACEMENT_LIMIT", ge=1)
    placement_limit_window_seconds: int = Field(
        alias="ORDER_PLACEMENT_LIMIT_WINDOW_SECONDS", ge=1, le=86400
    )


class PendingOrderSweeperSettings(OrdersTableSettings):
    """sweep_pending_orders: where orders are, which saga to start, and when an order counts
    as forgotten."""

    order_saga_state_machine_arn: str = Field(
        alias="ORDER_SAGA_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
    sweep_after_seconds: int = Field(alias="PENDING_ORDER_SWEEP_AFTER_SECONDS", ge=60)
    lookback_hours: int = Field(alias="PENDING_ORDER_SWEEP_LOOKBACK_HOURS", ge=1, le=24 * 14)


class WorkflowStarterSettings(EnvSettings):
    """start_order_workflows: the two state machines it may start, and nothing else."""

    order_saga_state_machine_arn: str = Field(
        alias="ORDER_SAGA_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
    order_cancellation_state_machine_arn: str = Field(
        alias="ORDER_CANCELLATION_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
