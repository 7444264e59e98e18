"""send_notification.handler called in-process on moto: the table template.yaml declares,
SES with the sender identity verified (the template's NotificationSenderIdentity)."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from localcloud.tables import create_table
from tests.support.template import ROOT, resource

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
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("NOTIFICATIONS_TABLE_NAME", TABLE_NAME)
        env.setenv("SENDER_EMAIL", SENDER)
        env.setenv("POWERTOOLS_SERVICE_NAME", "notifications")
        create_table(boto3.client("dynamodb"), TABLE_NAME, resource(TABLE_NAME)["Properties"])
        sys.modules.pop("send_notification", None)
        module = importlib.import_module("send_notification")
        yield boto3.resource("dynamodb").Table(TABLE_NAME), module


@pytest.fixture
def notifications(_notifications_cloud: tuple[Any, ModuleType]) -> NotificationsState:
    """An empty table and an SES that has sent nothing, with the sender verified."""
    table, _ = _notifications_cloud
    with table.batch_writer() as batch:
        for item in table.scan(ProjectionExpression="pk")["Items"]:
            batch.delete_item(Key={"pk": item["pk"]})
    ses_backends[DEFAULT_ACCOUNT_ID][REGION].reset()
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    return NotificationsState(table)


@pytest.fixture
def send_notification(_notifications_cloud: Any, notifications: NotificationsState) -> ModuleType:
    return _notifications_cloud[1]


def load_sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


@pytest.fixture
def sample_event() -> Any:
    """A copy of events/<name>.json, the sample event of one function."""
    return load_sample
