"""Stream -> bus: the relay publishes event items and reports what it could not publish."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

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


def put_events_calls(module: ModuleType) -> list[int]:
    """The number of entries of each PutEvents call the relay makes from now on (botocore's own
    event hook on the relay's client: the calls still reach moto)."""
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))

    module.events_client.meta.events.register("provide-client-params.events.PutEvents", count)
    return calls


def published_event_ids(queue_url: str) -> list[str]:
    """Every event the rule delivered to the sink queue, by eventId, in arrival order."""
    sqs = boto3.client("sqs")
    ids: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return ids
        for message in messages:
            ids.append(json.loads(message["Body"])["detail"]["metadata"]["eventId"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_the_events_of_one_invocation_go_out_ten_to_a_put_events_call(
    relay: tuple[ModuleType, str],
) -> None:
    # Given a stream batch of 25 event items (the mapping's BatchSize)
    module, queue_url = relay
    calls = put_events_calls(module)
    ids = [f"e-{n:02d}" for n in range(25)]
    event = {"Records": [stream_record(str(n + 1), event_image(i)) for n, i in enumerate(ids)]}

    # When the relay runs
    response = module.handler(event, FakeLambdaContext())

    # Then three calls carried them all (10 + 10 + 5), and every event reached the bus once
    assert response == {"batchItemFailures": []}
    assert calls == [10, 10, 5]
    assert sorted(published_event_ids(queue_url)) == ids


def test_one_entry_the_bus_refuses_is_the_only_record_reported(
    relay: tuple[ModuleType, str],
) -> None:
    # Given three event items in one batch, the middle one's detail not JSON: EventBridge
    # (moto as AWS) refuses that entry alone (MalformedDetail) and takes the others
    module, queue_url = relay
    calls = put_events_calls(module)
    malformed = {**event_image("e-bad"), "detail": "{not json"}
    event = {
        "Records": [
            stream_record("101", event_image("e-1")),
            stream_record("102", malformed),
            stream_record("103", event_image("e-3")),
        ]
    }

    # When the relay runs
    response = module.handler(event, FakeLambdaContext())

    # Then one call was made, only the refused record is a batch item failure (by its
    # SequenceNumber), and the two others are on the bus, once each
    assert calls == [3]
    assert response == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    assert sorted(published_event_ids(queue_url)) == ["e-1", "e-3"]


def test_a_put_events_call_that_fails_reports_its_records_and_not_the_other_calls(
    relay: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 12 event items (two calls: 10 + 2) and a bus that throttles the first call
    module, queue_url = relay
    real_put_events = module.events_client.put_events
    seen: list[int] = []

    def throttle_first_call(**request: Any) -> Any:
        seen.append(len(request["Entries"]))
        if len(seen) == 1:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "PutEvents",
            )
        return real_put_events(**request)

    monkeypatch.setattr(module.events_client, "put_events", throttle_first_call)
    ids = [f"e-{n:02d}" for n in range(12)]
    event = {"Records": [stream_record(str(n + 1), event_image(i)) for n, i in enumerate(ids)]}

    # When the relay runs
    response = module.handler(event, FakeLambdaContext())

    # Then the first call's ten records are reported, the second call's two are published
    assert seen == [10, 2]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(n)} for n in range(1, 11)]}
    assert published_event_ids(queue_url) == ["e-10", "e-11"]


def test_entries_are_split_so_each_call_stays_under_256_kb(
    relay: tuple[ModuleType, str],
) -> None:
    # Given three event items of about 100 KB each
    module, queue_url = relay
    calls = put_events_calls(module)

    def large(event_id: str) -> dict[str, str]:
        padding = "x" * 100_000
        detail = {"metadata": {"eventId": event_id}, "data": {"padding": padding}}
        return {**event_image(event_id), "detail": json.dumps(detail)}

    event = {"Records": [stream_record(str(n), large(f"e-{n}")) for n in range(1, 4)]}

    # When the relay runs
    response = module.handler(event, FakeLambdaContext())

    # Then two of them fit in one call and the third goes in a second one; all are published
    assert response == {"batchItemFailures": []}
    assert calls == [2, 1]
    assert sorted(published_event_ids(queue_url)) == ["e-1", "e-2", "e-3"]


def test_a_batch_delivered_twice_is_published_twice_and_reported_clean_both_times(
    relay: tuple[ModuleType, str],
) -> None:
    # Given a batch the relay already published (Lambda retries a shard from a failed record,
    # so records are redelivered: publishing is at-least-once, consumers dedupe on eventId)
    module, queue_url = relay
    event = {
        "Records": [stream_record("1", event_image("e-1")), stream_record("2", event_image("e-2"))]
    }
    assert module.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}

    # When the same records come again
    response = module.handler(event, FakeLambdaContext())

    # Then each is published again, with the same eventId, and nothing is reported
    assert response == {"batchItemFailures": []}
    assert sorted(published_event_ids(queue_url)) == ["e-1", "e-1", "e-2", "e-2"]


def test_a_batch_whose_every_record_is_refused_fails_the_invocation(
    relay: tuple[ModuleType, str],
) -> None:
    # Given a batch whose only event the bus refuses
    module, queue_url = relay
    event = {"Records": [stream_record("7", {**event_image("e-bad"), "detail": "{not json"})]}

    # When the relay runs, Then the invocation fails (Lambda bisects and retries the batch,
    # as BisectBatchOnFunctionError asks), and nothing reached the bus
    with pytest.raises(BatchProcessingError):
        module.handler(event, FakeLambdaContext())
    assert published_event_ids(queue_url) == []


def test_chunks_keep_order_and_both_limits() -> None:
    from shop_shared.outbox_relay import MAX_CALL_BYTES, chunks, entry_size

    def entry(size: int) -> Any:
        return {"Source": "s", "DetailType": "d", "Detail": "x" * (size - 2)}

    assert entry_size(entry(500)) == 500
    assert list(chunks([entry(10)] * 23)) == [(0, 10), (10, 20), (20, 23)]
    half = MAX_CALL_BYTES // 2
    # two halves make exactly 256 KB, which is not less than the limit: one each
    assert list(chunks([entry(half), entry(half), entry(10)])) == [(0, 1), (1, 3)]
    assert list(chunks([entry(MAX_CALL_BYTES + 1), entry(10)])) == [(0, 1), (1, 2)]
    assert list(chunks([])) == []
