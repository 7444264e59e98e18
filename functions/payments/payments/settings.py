"""charge_payment's and refund_payment's environment, validated once per cold start.

The `payment-provider` circuit breaker's thresholds come from the CIRCUIT_BREAKER_* variables
(template parameters PaymentProviderBreaker*).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

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
    # Set to true by localcloud in every function's environment (never by template.yaml), the
    # only thing that allows a plain-http provider (its simulator). Never inferred from the URL.
    localcloud: bool = Field(default=False, alias="SHOP_LOCALCLOUD")

    @model_validator(mode="after")
    def _https_outside_localcloud(self) -> Self:
        if not self.localcloud and not self.payment_provider_base_url.lower().startswith(
            "https://"
        ):
            raise ValueError(
                "PAYMENT_PROVIDER_BASE_URL must be https outside localcloud (SHOP_LOCALCLOUD)"
            )
        return self


class ChargePaymentSettings(PaymentsSettings):
    """charge_payment alone opens the sealed card token: the payment-token KMS key (its ARN)."""

    payment_token_key_id: str = Field(alias="PAYMENT_TOKEN_KEY_ID", min_length=1)
