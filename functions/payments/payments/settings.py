"""charge_payment's and refund_payment's environment, validated once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class PaymentsSettings(EnvSettings):
    payments_table_name: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=1)
    payment_provider_base_url: str = Field(
        alias="PAYMENT_PROVIDER_BASE_URL", pattern=r"^https?://[^\s/]+(/\S*)?$"
    )
    payment_provider_api_key_secret_arn: str = Field(
        alias="PAYMENT_PROVIDER_API_KEY_SECRET_ARN", min_length=1
    )
