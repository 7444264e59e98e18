"""send_notification.handler called in-process on moto: the table template.yaml declares,
SES with the sender identity verified (the template's NotificationSenderIdentity)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.support.sealing import CUSTOMER_DATA_KEY_ALIAS, customer_data_key
from tests.support.service_harness import empty_table, handlers_on_moto

TABLE_NAME = "NotificationsTable"
SENDER = "orders@shop.example.com"
REGION = "us-east-1"


class NotificationsState:
    """What the notifications table holds and what SES sent, for the Then of each test."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def items(self) -> dict[str, dict[str, Any]]:
        return {item["pk"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}

    def of_kind(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {pk: item for pk, item in self.items().items() if pk.startswith(prefix)}

    def idempotency_records(self) -> list[dict[str, Any]]:
        """Powertools Idempotency's records (keyed `<function>#<hash of the eventId>`)."""
        return [
            item for pk, item in self.items().items() if not pk.startswith(("CONTACT#", "SENT#"))
        ]

    def sent_emails(self) -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture(scope="module")
def _notifications_cloud() -> Iterator[tuple[Any, ModuleType]]:
    """One moto, the table and the handler module per test module. Settings and clients are
    read at import, so the environment is set first."""
    environment = {
        "NOTIFICATIONS_TABLE_NAME": TABLE_NAME,
        "SENDER_EMAIL": SENDER,
        "CUSTOMER_DATA_KEY_ID": CUSTOMER_DATA_KEY_ALIAS,
        "POWERTOOLS_SERVICE_NAME": "notifications",
    }
    with handlers_on_moto(TABLE_NAME, environment, ["send_notification"]) as (table, modules):
        customer_data_key()
        yield table, modules["send_notification"]


@pytest.fixture
def notifications(_notifications_cloud: tuple[Any, ModuleType]) -> NotificationsState:
    """An empty table and an SES that has sent nothing, with the sender verified."""
    table, _ = _notifications_cloud
    empty_table(table)
    ses_backends[DEFAULT_ACCOUNT_ID][REGION].reset()
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    return NotificationsState(table)


@pytest.fixture
def send_notification(_notifications_cloud: Any, notifications: NotificationsState) -> ModuleType:
    return _notifications_cloud[1]
