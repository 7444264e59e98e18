"""The customers functions' settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class CustomersSettings(EnvSettings):
    customers_table_name: str = Field(alias="CUSTOMERS_TABLE_NAME", min_length=3)


class RegisterCustomerSettings(CustomersSettings):
    """RegisterCustomer also seals the email and address it publishes (shop_shared.sealing)."""

    customer_data_key_id: str = Field(alias="CUSTOMER_DATA_KEY_ID", min_length=1)
