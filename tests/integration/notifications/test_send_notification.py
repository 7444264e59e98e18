"""NotificationsQueue -> send_notification.handler in-process on moto (DynamoDB + SES)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tests.support.client_calls import dynamodb_calls
from tests.support.sealing import seal_on_moto

SUB = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sample events' customer
CONFIRMED_ID = "e7a1c2d3-2222-4b2c-9d3e-4f5a6b7c8d9e"
REJECTED_ID = "e7a1c2d3-3333-4b2c-9d3e-4f5a6b7c8d9e"
ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"  # the sample events' order (a UUID)


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sealed_email(customer_id: str, email: str) -> dict[str, str]:
    """CustomerRegistered's `emailCiphertext`, sealed with this moto's customer-data key."""
    context = {"customerId": customer_id, "field": "email"}
    return {"emailCiphertext": seal_on_moto(email, context)}


def sample_records(sample_event: Any) -> list[dict[str, Any]]:
    """The sample batch: CustomerRegistered, OrderConfirmed, OrderRejected for one customer;
    the registration's email sealed with this moto's key (the sample's ciphertext is a
    placeholder: KMS keys are made per run)."""
    records: list[dict[str, Any]] = sample_event("send_notification")["Records"]
    registered = records[0]
    records[0] = record(
        registered,
        registered["messageId"],
        bus_event(registered, data=sealed_email(SUB, "ada@example.com")),
    )
    return records


def record(template: dict[str, Any], message_id: str, body: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS record like `template`, carrying `body` (an EventBridge event, or raw text)."""
    new = copy.deepcopy(template)
    new["messageId"] = message_id
    new["body"] = body if isinstance(body, str) else json.dumps(body)
    return new


def bus_event(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The EventBridge event in `template`'s body, with detail-type / eventId / data changed."""
    event: dict[str, Any] = json.loads(template["body"])
    if "detail_type" in changes:
        event["detail-type"] = changes["detail_type"]
    if "event_id" in changes:
        event["detail"]["metadata"]["eventId"] = changes["event_id"]
    if "data" in changes:
        event["detail"]["data"] = {**event["detail"]["data"], **changes["data"]}
    return event


def test_the_sample_batch_keeps_the_contact_and_emails_both_outcomes(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    # Given a batch with CustomerRegistered, then OrderConfirmed and OrderRejected for them
    # When it is processed
    response = send_notification.handler(batch(*sample_records(sample_event)), lambda_context)

    # Then no record failed
    assert response == {"batchItemFailures": []}
    # and the contact is kept
    contact = notifications.items()[f"CONTACT#{SUB}"]
    assert (contact["itemType"], contact["email"]) == ("CONTACT", "ada@example.com")
    assert "name" not in contact  # an email never carries what a customer typed
    assert "addressCiphertext" not in contact  # nor the address notifications has no use for
    # and each event's idempotency record is keyed on a SHA-256 of its id (not MD5)
    records = [pk for pk in notifications.items() if "#" in pk and "process_event" in pk]
    assert len(records) == 3
    assert all(re.fullmatch(r"[0-9a-f]{64}", pk.rsplit("#", 1)[1]) for pk in records)
    # and one email per order outcome went to them, from the configured sender
    emails = notifications.sent_emails()
    assert [(e.source, e.destinations["ToAddresses"]) for e in emails] == [
        ("orders@shop.example.com", ["ada@example.com"]),
        ("orders@shop.example.com", ["ada@example.com"]),
    ]
    assert emails[0].subject == f"Your order {ORDER_ID} is confirmed"
    assert "34.70 EUR" in emails[0].body
    assert "could not be completed" in emails[1].subject
    assert "out of stock" in emails[1].body
    # and each email is recorded once, under its event id, with SES's message id
    sent = notifications.of_kind("SENT#")
    assert set(sent) == {f"SENT#{CONFIRMED_ID}", f"SENT#{REJECTED_ID}"}
    assert {item["messageId"] for item in sent.values()} == {e.id for e in emails}
    assert sent[f"SENT#{CONFIRMED_ID}"]["detailType"] == "OrderConfirmed"
    assert sent[f"SENT#{CONFIRMED_ID}"]["orderId"] == ORDER_ID
    # and each event has a COMPLETED idempotency record that expires with the table's TTL
    records = notifications.idempotency_records()
    assert [r["status"] for r in records] == ["COMPLETED"] * 3
    assert all(int(r["expiresAt"]) > 0 for r in records)


def test_a_record_for_an_unknown_customer_fails_alone_and_succeeds_on_retry(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, rejected = sample_records(sample_event)
    ghost = record(
        confirmed,
        "msg-ghost",
        bus_event(confirmed, event_id="evt-ghost", data={"customerId": "ghost-sub"}),
    )

    # Given a batch where one OrderConfirmed is for a customer with no contact (yet)
    response = send_notification.handler(
        batch(registered, ghost, confirmed, rejected), lambda_context
    )

    # Then only that record is reported failed, for SQS to retry (then the DLQ)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-ghost"}]}
    assert len(notifications.sent_emails()) == 2
    assert "SENT#evt-ghost" not in notifications.items()
    assert len(notifications.idempotency_records()) == 3  # none left behind for the failure

    # And when the contact arrives and SQS redelivers the record, the email is sent
    ghost_registered = record(
        registered,
        "msg-ghost-registered",
        bus_event(
            registered,
            event_id="evt-ghost-registered",
            data={
                "customerId": "ghost-sub",
                **sealed_email("ghost-sub", "ghost@example.com"),
                "name": "Ghost",
            },
        ),
    )
    send_notification.handler(batch(ghost_registered), lambda_context)
    retry = send_notification.handler(batch(ghost), lambda_context)

    assert retry == {"batchItemFailures": []}
    assert notifications.sent_emails()[-1].destinations["ToAddresses"] == ["ghost@example.com"]
    assert "SENT#evt-ghost" in notifications.items()


def test_the_same_event_delivered_twice_sends_one_email(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, _ = sample_records(sample_event)
    send_notification.handler(batch(registered), lambda_context)

    # Given OrderConfirmed was handled
    send_notification.handler(batch(confirmed), lambda_context)
    after_first = notifications.items()

    # When SQS (or a second publish by the relay, with a new EventBridge id) delivers it again
    again = record(confirmed, "msg-again", bus_event(confirmed))
    again_body = json.loads(again["body"])
    again_body["id"] = "another-eventbridge-id"
    again["body"] = json.dumps(again_body)
    response = send_notification.handler(batch(again), lambda_context)

    # Then nothing is sent or written again
    assert response == {"batchItemFailures": []}
    assert len(notifications.sent_emails()) == 1
    assert notifications.items() == after_first
    assert len(notifications.of_kind("SENT#")) == 1


def test_a_duplicate_in_the_same_batch_sends_one_email(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, _ = sample_records(sample_event)

    response = send_notification.handler(
        batch(registered, confirmed, record(confirmed, "msg-dup", json.loads(confirmed["body"]))),
        lambda_context,
    )

    assert response == {"batchItemFailures": []}
    assert len(notifications.sent_emails()) == 1
    assert list(notifications.of_kind("SENT#")) == [f"SENT#{CONFIRMED_ID}"]


def test_a_redelivery_after_the_idempotency_record_expired_sends_no_second_email(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, _ = sample_records(sample_event)
    send_notification.handler(batch(registered, confirmed), lambda_context)
    # Given the idempotency records are gone (TTL), but the SENT record is kept
    for item in notifications.idempotency_records():
        notifications.table.delete_item(Key={"pk": item["pk"]})

    # When the event is delivered again (say, a DLQ redrive days later)
    response = send_notification.handler(batch(confirmed), lambda_context)

    # Then the SENT record stops a second email
    assert response == {"batchItemFailures": []}
    assert len(notifications.sent_emails()) == 1
    assert len(notifications.of_kind("SENT#")) == 1


def test_an_unknown_detail_type_is_ignored(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    _, confirmed, _ = sample_records(sample_event)
    other = record(confirmed, "msg-other", bus_event(confirmed, detail_type="OrderShipped"))

    response = send_notification.handler(batch(other), lambda_context)

    assert response == {"batchItemFailures": []}
    assert notifications.items() == {}
    assert notifications.sent_emails() == []


def test_malformed_records_fail_alone(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, _ = sample_records(sample_event)
    no_event_id = bus_event(confirmed)
    del no_event_id["detail"]["metadata"]["eventId"]
    bad_data = bus_event(confirmed, event_id="evt-bad", data={"totalCents": "lots"})

    response = send_notification.handler(
        batch(
            registered,
            record(confirmed, "msg-not-json", "{not json"),
            record(confirmed, "msg-no-event-id", no_event_id),
            record(confirmed, "msg-bad-data", bad_data),
        ),
        lambda_context,
    )

    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "msg-not-json"},
            {"itemIdentifier": "msg-no-event-id"},
            {"itemIdentifier": "msg-bad-data"},
        ]
    }
    assert list(notifications.of_kind("CONTACT#")) == [f"CONTACT#{SUB}"]
    assert notifications.of_kind("SENT#") == {}
    assert notifications.sent_emails() == []


def test_a_batch_of_only_unknown_customers_is_a_partial_failure_logged_as_a_warning(
    send_notification: Any,
    sample_event: Any,
    lambda_context: Any,
    notifications: Any,
    caplog: Any,
) -> None:
    _, confirmed, _ = sample_records(sample_event)
    ghost = record(
        confirmed,
        "msg-ghost",
        bus_event(confirmed, event_id="evt-ghost-only", data={"customerId": "ghost-sub"}),
    )

    # Given a batch whose every record is for a customer with no contact (yet)
    # When it is processed
    response = send_notification.handler(batch(ghost), lambda_context)

    # Then the record is reported failed for SQS to retry, not raised as a function error
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-ghost"}]}
    assert notifications.sent_emails() == []
    # and the log says what happened as a warning, without a traceback
    warnings = [r for r in caplog.records if r.getMessage() == "contact not found; record retried"]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert warnings[0].error == "CONTACT_NOT_FOUND"
    assert not any(r.exc_info for r in caplog.records)


def test_an_email_sealed_for_another_customer_is_refused(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    # Given a CustomerRegistered whose email ciphertext was sealed for another customer (copied
    # from their event)
    registered = sample_records(sample_event)[0]
    forged = record(
        registered,
        "msg-forged",
        bus_event(
            registered, event_id="evt-forged", data=sealed_email("other-sub", "ada@example.com")
        ),
    )

    # When it is processed
    response = send_notification.handler(batch(forged), lambda_context)

    # Then KMS refuses to open it under this customer's context: the record fails (SQS retries
    # it, then the DLQ has it) and no contact is kept
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-forged"}]}
    assert f"CONTACT#{SUB}" not in notifications.items()


def test_an_order_email_reads_its_sent_record_and_the_contact_in_one_request(
    send_notification: Any, sample_event: Any, lambda_context: Any, notifications: Any
) -> None:
    registered, confirmed, _ = sample_records(sample_event)
    send_notification.handler(batch(registered), lambda_context)
    # Given the repository's calls are counted from here
    calls = dynamodb_calls(send_notification)

    # When OrderConfirmed is handled, then delivered again
    first = send_notification.handler(batch(confirmed), lambda_context)
    again = send_notification.handler(
        batch(record(confirmed, "msg-again", json.loads(confirmed["body"]))), lambda_context
    )

    # Then the first read both items with one BatchGetItem before sending and recording, the
    # duplicate was answered by the idempotency record, and one email went out
    assert first == again == {"batchItemFailures": []}
    assert calls == ["BatchGetItem", "PutItem"]
    assert len(notifications.sent_emails()) == 1
    assert list(notifications.of_kind("SENT#")) == [f"SENT#{CONFIRMED_ID}"]


def test_keys_left_unprocessed_are_asked_again(
    send_notification: Any,
    sample_event: Any,
    lambda_context: Any,
    notifications: Any,
    monkeypatch: Any,
) -> None:
    registered, confirmed, _ = sample_records(sample_event)
    send_notification.handler(batch(registered), lambda_context)
    # Given DynamoDB answers the first BatchGetItem for the first key only (as under throttling)
    dynamodb = send_notification.repository._dynamodb
    real_batch_get = dynamodb.batch_get_item
    requests: list[list[str]] = []

    def throttled_once(RequestItems: dict[str, Any]) -> Any:
        ((table, request),) = RequestItems.items()
        requests.append([key["pk"] for key in request["Keys"]])
        if len(requests) > 1:
            return real_batch_get(RequestItems=RequestItems)
        first, *rest = request["Keys"]
        answer = real_batch_get(RequestItems={table: {**request, "Keys": [first]}})
        answer["UnprocessedKeys"] = {table: {**request, "Keys": rest}}
        return answer

    monkeypatch.setattr(dynamodb, "batch_get_item", throttled_once)

    # When OrderConfirmed is handled
    response = send_notification.handler(batch(confirmed), lambda_context)

    # Then the contact was asked for again and found: the email is sent and recorded
    assert response == {"batchItemFailures": []}
    assert requests == [[f"SENT#{CONFIRMED_ID}", f"CONTACT#{SUB}"], [f"CONTACT#{SUB}"]]
    assert notifications.sent_emails()[-1].destinations["ToAddresses"] == ["ada@example.com"]
    assert list(notifications.of_kind("SENT#")) == [f"SENT#{CONFIRMED_ID}"]
