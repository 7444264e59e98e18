"""Stream -> bus: the relay publishes event items and reports what it could not publish."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.support.lambda_context import FakeLambdaContext


@pytest.fixture
def relay(aws: None, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, str]:
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    events.create_event_bus(Name="test-bus")
    queue_url = sqs.create_queue(QueueName="sink")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="all",
        EventBusName="test-bus",
        EventPattern=json.dumps({"source": [{"prefix": "shop."}]}),
    )
    events.put_targets(Rule="all", EventBusName="test-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", "test-bus")
    import shop_shared.outbox_relay as module

    return importlib.reload(module), queue_url


def stream_record(sequence: str, image: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventID": sequence,
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "SequenceNumber": sequence,
            "NewImage": {k: {"S": v} for k, v in image.items()},
            "StreamViewType": "NEW_IMAGE",
        },
    }


def event_image(event_id: str, source: str = "shop.things") -> dict[str, str]:
    return {
        "pk": f"EVENT#{event_id}",
        "itemType": "EVENT",
        "eventId": event_id,
        "source": source,
        "detailType": "ThingHappened",
        "detail": json.dumps({"metadata": {"eventId": event_id}, "data": {"n": 1}}),
    }


def test_event_items_reach_the_bus_and_other_items_are_skipped(
    relay: tuple[ModuleType, str],
) -> None:
    module, queue_url = relay
    event = {
        "Records": [
            stream_record("1", event_image("e-1")),
            stream_record("2", {"pk": "PRODUCT#X", "itemType": "PRODUCT"}),
        ]
    }

    response = module.handler(event, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    (published,) = [json.loads(m["Body"]) for m in messages]
    assert published["source"] == "shop.things"
    assert published["detail-type"] == "ThingHappened"
    assert published["detail"]["metadata"]["eventId"] == "e-1"


def test_a_record_the_bus_refuses_is_reported_and_the_others_are_published(
    relay: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, queue_url = relay
    real_put_events = module.events_client.put_events

    def refuse_one(Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if json.loads(Entries[0]["Detail"])["metadata"]["eventId"] == "e-bad":
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            }
        return real_put_events(Entries=Entries)

    monkeypatch.setattr(module.events_client, "put_events", refuse_one)
    event = {
        "Records": [
            stream_record("1", event_image("e-ok")),
            stream_record("2", event_image("e-bad")),
        ]
    }

    response = module.handler(event, FakeLambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"])["detail"]["metadata"]["eventId"] for m in messages] == ["e-ok"]
