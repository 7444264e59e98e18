"""The notifications function's settings, read from the environment once per cold start."""

from __future__ import annotations

from pydantic import Field

from shop_shared.settings import EnvSettings


class NotificationsSettings(EnvSettings):
    notifications_table_name: str = Field(alias="NOTIFICATIONS_TABLE_NAME", min_length=3)
    customer_data_key_id: str = Field(alias="CUSTOMER_DATA_KEY_ID", min_length=1)
    sender_email: str = Field(alias="SENDER_EMAIL", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
