"""The shipping functions' settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class ShippingSettings(EnvSettings):
    shipping_table_name: str = Field(alias="SHIPPING_TABLE_NAME", min_length=3)


class AddressOpenerSettings(ShippingSettings):
    """ScheduleShipment and RecordCustomerAddress also open sealed addresses
    (shop_shared.sealing) with the customer-data key."""

    customer_data_key_id: str = Field(alias="CUSTOMER_DATA_KEY_ID", min_length=1)
