"""The orders read model in-process on moto, fed the way AWS feeds it: orders written by the real
handlers, the orders stream relayed to the bus by the real outbox relay, the template's
OrderSummariesRule routing them to the queue, and the queue's messages handed to
project_order_summary (with duplicates and out of order); then GET /v1/orders (list_orders) and
the rebuild (rebuild_order_summaries) into a second table made from the template's definition."""

from __future__ import annotations

import copy
import importlib
import json
import random
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from orders.logic import fold, load
from orders.read_model.models import OrderSummaryItem
from orders.read_model.repository import DynamoDBOrderSummaryStore
from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    all_items,
    api_event,
    body_of,
    load_handler,
    payment_token_key,
    sample_event,
    stream_event,
)
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sealing import customer_data_key
from tests.support.template import resource

BUS = "test-bus"
QUEUE = "OrderSummariesQueue"
SUMMARIES = "OrderSummariesTable"
REBUILT = "RebuiltOrderSummaries"


@dataclass
class ReadModel:
    orders: Any
    summaries: Any
    queue_url: str
    queue_arn: str
    place_order: ModuleType
    confirm_order: ModuleType
    reject_order: ModuleType
    relay: ModuleType
    project: ModuleType
    list_orders: ModuleType

    @property
    def store(self) -> DynamoDBOrderEventStore:
        return DynamoDBOrderEventStore("OrdersTable", table=self.orders)


def cursor_key_secret() -> str:
    """OrderListCursorKeySecret as the template declares it: a key Secrets Manager generated."""
    secrets = boto3.client("secretsmanager")
    spec = resource("OrderListCursorKeySecret")["Properties"]["GenerateSecretString"]
    key = secrets.get_random_password(**spec)["RandomPassword"]
    arn: str = secrets.create_secret(Name=f"cursor-key-{uuid.uuid4()}", SecretString=key)["ARN"]
    return arn


@pytest.fixture
def read_model(make_table: Any, monkeypatch: pytest.MonkeyPatch) -> ReadModel:
    orders = make_table("OrdersTable")
    make_table("OrdersIdempotencyTable")
    make_table("OrderPlacementLimitsTable")
    summaries = make_table(SUMMARIES)
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule = resource("OrderSummariesRule")["Properties"]
    events.put_rule(
        Name="OrderSummariesRule", EventBusName=BUS, EventPattern=json.dumps(rule["EventPattern"])
    )
    events.put_targets(
        Rule="OrderSummariesRule", EventBusName=BUS, Targets=[{"Id": QUEUE, "Arn": queue_arn}]
    )
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    import shop_shared.outbox_relay as relay

    tables = {"ORDERS_TABLE_NAME": "OrdersTable"}
    return ReadModel(
        orders=orders,
        summaries=summaries,
        queue_url=queue_url,
        queue_arn=queue_arn,
        place_order=load_handler(
            monkeypatch,
            "place_order",
            IDEMPOTENCY_TABLE_NAME="OrdersIdempotencyTable",
            PAYMENT_TOKEN_KEY_ID=payment_token_key(),
            CUSTOMER_DATA_KEY_ID=customer_data_key(),
            ORDER_PLACEMENT_LIMITS_TABLE_NAME="OrderPlacementLimitsTable",
            ORDER_PLACEMENT_LIMIT="1000",
            ORDER_PLACEMENT_LIMIT_WINDOW_SECONDS="3600",
            **tables,
        ),
        confirm_order=load_handler(monkeypatch, "confirm_order", **tables),
        reject_order=load_handler(monkeypatch, "reject_order", **tables),
        relay=importlib.reload(relay),
        project=load_handler(
            monkeypatch, "project_order_summary", ORDER_SUMMARIES_TABLE_NAME=SUMMARIES, **tables
        ),
        list_orders=load_handler(
            monkeypatch,
            "list_orders",
            ORDER_SUMMARIES_TABLE_NAME=SUMMARIES,
            ORDER_LIST_CURSOR_KEY_SECRET_ARN=cursor_key_secret(),
        ),
    )


# ---------------------------------------------------------------- the write side, as AWS runs it


def place(model: ReadModel, customer: str) -> str:
    body = json.loads(sample_event("place_order")["body"])
    key = {"Idempotency-Key": uuid.uuid4().hex}  # a new order each time, not the sample's retry
    response = model.place_order.handler(
        api_event("place_order", sub=customer, body=body, headers=key), FakeLambdaContext()
    )
    assert response["statusCode"] == 202, response
    order_id: str = body_of(response)["orderId"]
    return order_id


def confirm(model: ReadModel, order_id: str) -> None:
    state = {**sample_event("confirm_order"), "orderId": order_id}
    assert model.confirm_order.handler(state, FakeLambdaContext())["status"] == "CONFIRMED"


def reject(model: ReadModel, order_id: str) -> None:
    state = {**sample_event("reject_order"), "orderId": order_id}
    assert model.reject_order.handler(state, FakeLambdaContext())["status"] == "REJECTED"


def relay_to_queue(model: ReadModel) -> list[dict[str, Any]]:
    """Relay the orders stream to the bus, and take what the rule delivered to the queue, as the
    SQS event source hands records to a function."""
    assert model.relay.handler(stream_event("OrdersTable"), FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    sqs = boto3.client("sqs")
    records: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=model.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            records.append(sqs_record(model, message))
            sqs.delete_message(QueueUrl=model.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return records


def sqs_record(model: ReadModel, message: dict[str, Any]) -> dict[str, Any]:
    attributes = message["Attributes"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes["ApproximateReceiveCount"],
            "SentTimestamp": attributes["SentTimestamp"],
            "SenderId": attributes["SenderId"],
            "ApproximateFirstReceiveTimestamp": attributes["ApproximateFirstReceiveTimestamp"],
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": model.queue_arn,
        "awsRegion": "us-east-1",
    }


def project(model: ReadModel, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hand the records to the consumer in batches of 10 (the template's BatchSize)."""
    failures = []
    for start in range(0, len(records), 10):
        response = model.project.handler(
            {"Records": records[start : start + 10]}, FakeLambdaContext()
        )
        failures.extend(response["batchItemFailures"])
    return failures


def detail_of(record: dict[str, Any]) -> tuple[str, str, int]:
    event = json.loads(record["body"])
    detail = event["detail"]
    return event["detail-type"], detail["data"]["orderId"], detail["metadata"]["aggregateVersion"]


def by_pk(table: Any) -> dict[str, dict[str, Any]]:
    return {item["pk"]: item for item in all_items(table)}


def folded(model: ReadModel, order_id: str) -> dict[str, Any]:
    """The summary item of the order's fold from the event store: what the read model must hold."""
    order = load(model.store, order_id)
    assert order is not None
    return OrderSummaryItem.of(order).to_item()


def list_page(model: ReadModel, customer: str, **query: str) -> tuple[int, Any]:
    event = api_event("list_orders", sub=customer, query=query or None)
    response = model.list_orders.handler(event, FakeLambdaContext())
    return response["statusCode"], body_of(response)


# ---------------------------------------------------------------- the whole path


def test_order_events_reach_the_read_model_which_a_rebuild_reproduces(
    read_model: ReadModel, make_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model = read_model
    # Given three orders of one customer (confirmed, rejected, pending) and one of another
    first, second, third = (place(model, CUSTOMER) for _ in range(3))
    theirs = place(model, OTHER_CUSTOMER)
    confirm(model, first)
    reject(model, second)
    orders_before = all_items(model.orders)

    # When the stream is relayed: the rule routes every order event to the queue, each once
    records = relay_to_queue(model)
    assert sorted(detail_of(r) for r in records) == sorted(
        [
            ("OrderPlaced", first, 1),
            ("OrderPlaced", second, 1),
            ("OrderPlaced", third, 1),
            ("OrderPlaced", theirs, 1),
            ("OrderConfirmed", first, 2),
            ("OrderRejected", second, 2),
        ]
    )

    # And the consumer gets them late and twice: the confirmation before its OrderPlaced, then
    # everything in reverse, then everything again shuffled
    confirmation = next(r for r in records if detail_of(r)[0] == "OrderConfirmed")
    shuffled = copy.deepcopy(records)
    random.Random(7).shuffle(shuffled)
    failures = project(model, [confirmation, *reversed(records), *shuffled])

    # Then no record failed, and each order's summary is the fold of its events
    assert failures == []
    summaries = by_pk(model.summaries)
    assert summaries == {f"ORDER#{o}": folded(model, o) for o in (first, second, third, theirs)}
    assert [
        (summaries[f"ORDER#{o}"]["status"], summaries[f"ORDER#{o}"].get("totalCents"))
        for o in (first, second, third, theirs)
    ] == [("CONFIRMED", 3470), ("REJECTED", None), ("PENDING", None), ("PENDING", None)]
    # and the event store was only read, the queue is drained
    assert all_items(model.orders) == orders_before
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=model.queue_url)

    # When the customers list their orders, one page of two, then the next
    status, page_one = list_page(model, CUSTOMER, limit="2")
    _, page_two = list_page(model, CUSTOMER, limit="2", cursor=page_one["nextCursor"])
    _, other = list_page(model, OTHER_CUSTOMER)

    # Then newest first, their own only, the last page without a cursor
    assert status == 200
    assert [o["orderId"] for o in page_one["items"]] == [third, second]
    assert [o["orderId"] for o in page_two["items"]] == [first]
    assert page_two["nextCursor"] is None
    assert page_two["items"][0] == {
        "orderId": first,
        "status": "CONFIRMED",
        "totalCents": 3470,
        "currency": "EUR",
        "createdAt": summaries[f"ORDER#{first}"]["createdAt"],
    }
    assert other == {
        "items": [
            {
                "orderId": theirs,
                "status": "PENDING",
                "totalCents": None,
                "currency": None,
                "createdAt": summaries[f"ORDER#{theirs}"]["createdAt"],
            }
        ],
        "nextCursor": None,
    }

    # When the read model is rebuilt from the event store into an empty table, twice
    from rebuild_order_summaries import main as rebuild

    rebuilt = make_table(SUMMARIES, REBUILT)
    arguments = ["--orders-table", "OrdersTable", "--summaries-table", REBUILT]
    assert rebuild(arguments) == 0
    assert rebuild(arguments) == 0

    # Then the rebuilt table equals the live one, item by item, and the store is unchanged
    assert by_pk(rebuilt) == by_pk(model.summaries)
    assert all_items(model.orders) == orders_before
    report = capsys.readouterr().out
    assert "4 orders in OrdersTable: 4 summaries written to RebuiltOrderSummaries" in report


def test_a_record_that_cannot_be_projected_fails_alone(read_model: ReadModel) -> None:
    model = read_model
    # Given a batch with a good OrderPlaced, a body that is not JSON and an event whose data is
    # not an order's
    order_id = place(model, CUSTOMER)
    (good,) = relay_to_queue(model)
    not_json = {**good, "messageId": "not-json", "body": "{"}
    broken_event = json.loads(good["body"])
    broken_event["detail"]["data"]["orderId"] = "42"
    broken = {**good, "messageId": "broken", "body": json.dumps(broken_event)}

    # When the batch is projected
    failures = project(model, [not_json, good, broken])

    # Then only the two bad records are reported (SQS retries them, then the DLQ takes them),
    # and the good one is in the read model
    assert failures == [{"itemIdentifier": "not-json"}, {"itemIdentifier": "broken"}]
    assert by_pk(model.summaries) == {f"ORDER#{order_id}": folded(model, order_id)}


def test_the_sample_event_projects_an_order_and_a_second_run_changes_nothing(
    read_model: ReadModel,
) -> None:
    event = sample_event("project_order_summary")

    first = read_model.project.handler(event, FakeLambdaContext())
    after_first = by_pk(read_model.summaries)
    second = read_model.project.handler(event, FakeLambdaContext())

    assert first == second == {"batchItemFailures": []}
    assert by_pk(read_model.summaries) == after_first
    ((pk, item),) = after_first.items()
    assert (pk, item["status"], item["totalCents"], item["version"]) == (
        "ORDER#7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f",
        "CONFIRMED",
        3470,
        2,
    )


# ---------------------------------------------------------------- GET /v1/orders at its edge


def test_a_new_customer_has_an_empty_list(read_model: ReadModel) -> None:
    status, body = list_page(read_model, CUSTOMER)

    assert (status, body) == (200, {"items": [], "nextCursor": None})
    assert all_items(read_model.summaries) == []


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"limit": "0"}, "VALIDATION_ERROR", "query.limit"),
        ({"limit": "101"}, "VALIDATION_ERROR", "query.limit"),
        ({"limit": "ten"}, "VALIDATION_ERROR", "query.limit"),
        ({"cursor": "not a cursor!"}, "VALIDATION_ERROR", "query.cursor"),
        ({"cursor": "eyJ2IjogMX0"}, "INVALID_CURSOR", None),  # base64url of {"v": 1}
    ],
)
def test_a_bad_limit_or_cursor_is_a_400(
    read_model: ReadModel, query: dict[str, str], code: str, field: str | None
) -> None:
    status, body = list_page(read_model, CUSTOMER, **query)

    assert status == 400
    assert body["code"] == code
    assert body["message"]
    if field:
        assert body["message"].startswith(f"Invalid request: {field}")


def test_a_cursor_from_another_customer_or_edited_is_a_400(read_model: ReadModel) -> None:
    # Given a customer with three orders and the cursor of their first page
    model = read_model
    for _ in range(3):
        place(model, CUSTOMER)
    project(model, relay_to_queue(model))
    _, page = list_page(model, CUSTOMER, limit="1")
    cursor = page["nextCursor"]
    assert cursor

    # When another customer uses it, or it is edited by one character
    theirs = list_page(model, OTHER_CUSTOMER, cursor=cursor)
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    edited = list_page(model, CUSTOMER, cursor=flipped)

    # Then both are refused with the same 400
    expected = {
        "message": "The cursor is not valid; start again without one",
        "code": "INVALID_CURSOR",
    }
    assert theirs == edited == (400, expected)


# ---------------------------------------------------------------- the conditional write


def test_a_summary_is_only_ever_replaced_by_a_newer_version(read_model: ReadModel) -> None:
    # Given an order placed and confirmed, and its states at version 1 and 2
    model = read_model
    order_id = place(model, CUSTOMER)
    confirm(model, order_id)
    events = [item.recorded() for item in model.store.history(order_id)]
    at_1, at_2 = fold(events[:1]), fold(events)
    assert at_1 is not None
    assert at_2 is not None
    summaries = DynamoDBOrderSummaryStore(SUMMARIES, table=model.summaries)

    # When version 2 is written, then version 1 (a slower concurrent delivery), then 2 again
    written = [summaries.save(at_2), summaries.save(at_1), summaries.save(at_2)]
    # and a rebuild writes version 2 over itself, but not version 1
    rebuilt = [
        summaries.save(at_2, replace_same_version=True),
        summaries.save(at_1, replace_same_version=True),
    ]

    # Then only the first write and the rebuild's same-version write happened
    assert written == [True, False, False]
    assert rebuilt == [True, False]
    assert by_pk(model.summaries) == {f"ORDER#{order_id}": folded(model, order_id)}
    assert by_pk(model.summaries)[f"ORDER#{order_id}"]["version"] == 2
