"""ReceiveMessage keeps moto's retention rule (localcloud.sqs.retention) without building the
queue's attributes for every message it hands out."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import SQSBackend, sqs_backends

from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.sqs import retention


@pytest.fixture(autouse=True)
def installed() -> None:
    retention.install()


def _received_after_ageing(ages: list[float]) -> list[str]:
    """Send one message per age, make each that many seconds old, receive what is retained."""
    with mock_aws():
        sqs: Any = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="Kept", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        for age in ages:
            sqs.send_message(QueueUrl=url, MessageBody=f"{age:g}s old")
        queue: Any = sqs_backends[ACCOUNT_ID][REGION].get_queue("Kept")
        now_ms = time.time() * 1000
        for message, age in zip(queue._messages, ages, strict=True):
            message.sent_timestamp = int(now_ms - age * 1000)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return sorted(m["Body"] for m in received)


def test_a_message_is_received_while_the_queue_retains_it_as_moto_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given messages 1 s, 30 s, 59 s and 61 s old on a queue retaining them 60 s
    ages = [1.0, 30.0, 59.0, 61.0]
    # When they are received with localcloud's check, then with moto's own
    ours = _received_after_ageing(ages)
    monkeypatch.setattr(
        SQSBackend, "is_message_valid_based_on_retention_period", retention.moto_is_retained
    )
    motos = _received_after_ageing(ages)
    # Then both hand out the retained ones only
    assert ours == motos == ["1s old", "30s old", "59s old"]


def test_the_check_does_not_build_the_queues_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's attribute read, counted
    reads: list[str] = []
    moto_read = SQSBackend.get_queue_attributes

    def counted(self: SQSBackend, queue_name: str, names: list[str]) -> dict[str, Any]:
        reads.append(queue_name)
        return moto_read(self, queue_name, names)

    monkeypatch.setattr(SQSBackend, "get_queue_attributes", counted)
    # When three messages are received
    received = _received_after_ageing([1.0, 2.0, 3.0])
    # Then none of them read the queue's attributes
    assert len(received) == 3
    assert reads == []
