"""ShippingQueue -> record_customer_address.handler in-process on moto (DynamoDB)."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.support.sealing import sealed_for_customer

CUSTOMER = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sample event's
EVENT_ID = "e7a1c2d3-1111-4b2c-9d3e-4f5a6b7c8d9e"


def with_body(record: dict[str, Any], message_id: str, **changes: Any) -> dict[str, Any]:
    """A copy of the SQS record, its EventBridge event's metadata / data changed."""
    new = copy.deepcopy(record)
    new["messageId"] = message_id
    body = json.loads(new["body"])
    body["detail"]["metadata"].update(changes.get("metadata", {}))
    body["detail"]["data"].update(changes.get("data", {}))
    new["body"] = json.dumps(body)
    return new


def test_the_registered_address_is_kept_once_per_event(
    record_customer_address: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    # Given the sample CustomerRegistered, delivered twice (SQS is at-least-once)
    event = sample_event("record_customer_address")

    first = record_customer_address.handler(event, lambda_context)
    after_first = shipping.items()
    second = record_customer_address.handler(event, lambda_context)

    # Then no record failed, and the address is kept once
    assert first == second == {"batchItemFailures": []}
    assert shipping.items() == after_first
    address = shipping.items()[f"ADDRESS#{CUSTOMER}"]
    assert address["itemType"] == "ADDRESS"
    assert address["address"] == {
        "line1": "12 Analytical Row",
        "line2": "Flat 3",
        "city": "London",
        "postalCode": "NW1 6XE",
        "country": "GB",
    }
    assert address["eventId"] == EVENT_ID
    # and one COMPLETED idempotency record expires with the table's TTL; nothing else
    (record,) = shipping.idempotency_records()
    assert record["status"] == "COMPLETED"
    assert int(record["expiresAt"]) > 0
    assert sorted(pk.split("#")[0] for pk in shipping.items()) == sorted(
        ["ADDRESS", record["pk"].split("#")[0]]
    )
    assert shipping.outbox() == []


def test_an_older_event_arriving_late_never_overwrites_a_newer_address(
    record_customer_address: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    (template,) = sample_event("record_customer_address")["Records"]
    newer = with_body(
        template,
        "m-newer",
        metadata={"eventId": "evt-newer", "occurredAt": "2026-11-25T15:00:00.000001Z"},
        data={
            "addressCiphertext": sealed_for_customer(
                CUSTOMER,
                {"line1": "1 New St", "city": "Paris", "postalCode": "75001", "country": "FR"},
            )
        },
    )
    older = with_body(
        template,
        "m-older",
        metadata={"eventId": "evt-older", "occurredAt": "2026-11-25T15:00:00Z"},
    )

    response = record_customer_address.handler({"Records": [newer, older]}, lambda_context)

    assert response == {"batchItemFailures": []}
    address = shipping.items()[f"ADDRESS#{CUSTOMER}"]
    assert (address["address"]["city"], address["eventId"]) == ("Paris", "evt-newer")
    assert [r["status"] for r in shipping.idempotency_records()] == ["COMPLETED", "COMPLETED"]


def test_a_malformed_record_fails_alone(
    record_customer_address: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    (good,) = sample_event("record_customer_address")["Records"]
    no_address = with_body(good, "m-bad", metadata={"eventId": "evt-bad"})
    body = json.loads(no_address["body"])
    del body["detail"]["data"]["addressCiphertext"]
    no_address["body"] = json.dumps(body)
    not_json = {**copy.deepcopy(good), "messageId": "m-garbage", "body": "not json"}

    response = record_customer_address.handler(
        {"Records": [no_address, good, not_json]}, lambda_context
    )

    # Then only the bad records are reported (SQS retries them, then the DLQ); the good one ran
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-bad"}, {"itemIdentifier": "m-garbage"}]
    }
    assert shipping.items()[f"ADDRESS#{CUSTOMER}"]["eventId"] == EVENT_ID
