"""get_order_details' environment, validated once per cold start (names as in template.yaml).

The three breakers' thresholds come from the CIRCUIT_BREAKER_* variables (template parameters
OrderDetailsBreaker*); the timeouts of each call from SERVICE_CALL_*_TIMEOUT_SECONDS.
"""

from __future__ import annotations

from pydantic import Field

from orders.settings import OrdersTableSettings
from shop_shared.circuit_breaker import CircuitBreakerSettings

# What the parts may take beyond one call's timeouts: the breaker's own read and write.
DEADLINE_MARGIN_SECONDS = 0.5


class OrderDetailsSettings(CircuitBreakerSettings, OrdersTableSettings):
    customer_profile_function_name: str = Field(
        alias="GET_CUSTOMER_PROFILE_FUNCTION_NAME", min_length=1
    )
    payment_function_name: str = Field(alias="GET_PAYMENT_FUNCTION_NAME", min_length=1)
    shipment_function_name: str = Field(alias="GET_SHIPMENT_FUNCTION_NAME", min_length=1)
    connect_timeout_seconds: float = Field(
        alias="SERVICE_CALL_CONNECT_TIMEOUT_SECONDS", gt=0, le=10
    )
    read_timeout_seconds: float = Field(alias="SERVICE_CALL_READ_TIMEOUT_SECONDS", gt=0, le=10)

    @property
    def parts_deadline_seconds(self) -> float:
        """How long the answer waits for a part at most, whatever happens inside the call."""
        return self.connect_timeout_seconds + self.read_timeout_seconds + DEADLINE_MARGIN_SECONDS
