"""charge_payment's and refund_payment's environment, validated once per cold start.

The `payment-provider` circuit breaker's thresholds come from the CIRCUIT_BREAKER_* variables
(template parameters PaymentProviderBreaker*).
"""

from __future__ import annotations

from pydantic import Field

from shop_shared.circuit_breaker import CircuitBreakerSettings
from shop_shared.settings import EnvSettings


class PaymentsTableSettings(EnvSettings):
    """get_payment (the internal query): the table and nothing else."""

    payments_table_name: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=1)


class PaymentsSettings(CircuitBreakerSettings, PaymentsTableSettings):
    payment_provider_base_url: str = Field(
        alias="PAYMENT_PROVIDER_BASE_URL", pattern=r"^https?://[^\s/]+(/\S*)?$"
    )
    payment_provider_api_key_secret_arn: str = Field(
        alias="PAYMENT_PROVIDER_API_KEY_SECRET_ARN", min_length=1
    )
