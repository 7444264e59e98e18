"""End to end on localcloud: GET /v1/orders (the read model) fed by the order events through the
bus and OrderSummariesQueue, the rebuild command against the running localcloud, and the API's
OpenAPI document and Swagger UI. localcloud is started the way `make run` starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

import jwt
import pytest

from tests.support.localcloud_process import ROOT, RunningLocalCloud
from tests.support.polling import eventually
from tests.support.shared_cloud import LIFECYCLE_GROUP
from tests.support.shop import Client, final_order, new_customer, new_product, scan

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(LIFECYCLE_GROUP)]

SUMMARIES = "OrderSummariesTable"


@pytest.fixture(scope="module")
def cloud(lifecycle_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return lifecycle_cloud


def place(customer: Client, sku: str, token: str) -> str:
    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 1}], "paymentToken": token}
    )
    assert status == 202, placed
    return str(placed["orderId"])


def listed(customer: Client, query: str = "") -> dict[str, Any]:
    status, body = customer.call("GET", f"/orders{query}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def queue_depth(cloud: RunningLocalCloud, queue: str) -> int:
    url = cloud.aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = cloud.aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def summaries_of(cloud: RunningLocalCloud) -> dict[str, dict[str, Any]]:
    return {item["pk"]: item for item in scan(cloud, SUMMARIES)}


def test_two_orders_are_listed_newest_first_one_page_at_a_time(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a customer who placed two orders: one that is confirmed, then one that is declined
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)
    older = place(customer, sku, "tok_visa")
    newer = place(customer, sku, "tok_declined")
    assert final_order(customer, older)["status"] == "CONFIRMED"
    assert final_order(customer, newer)["status"] == "REJECTED"

    # When the list shows both outcomes (the read model follows the events)
    def both_settled() -> dict[str, Any] | None:
        body = listed(customer)
        statuses = {o["orderId"]: o["status"] for o in body["items"]}
        return body if statuses == {older: "CONFIRMED", newer: "REJECTED"} else None

    whole = eventually(both_settled)
    assert whole, f"the list never showed both outcomes: {listed(customer)}"

    # Then newest first, and paging one at a time gives the same two, then no cursor
    assert [o["orderId"] for o in whole["items"]] == [newer, older]
    assert whole["nextCursor"] is None
    first = listed(customer, "?limit=1")
    second = listed(customer, f"?limit=1&cursor={first['nextCursor']}")
    assert [o["orderId"] for o in first["items"]] == [newer]
    assert [o["orderId"] for o in second["items"]] == [older]
    assert second["nextCursor"] is None
    assert second["items"][0]["totalCents"] == 1250
    assert second["items"][0]["currency"] == "EUR"
    assert first["items"][0]["totalCents"] is None

    # And the read model holds each order once at its last version; nothing is left queued
    sub = str(jwt.decode(str(customer.token), options={"verify_signature": False})["sub"])
    mine = {pk: i for pk, i in summaries_of(cloud).items() if i["customerId"] == sub}
    assert {pk: (i["status"], int(i["version"])) for pk, i in mine.items()} == {
        f"ORDER#{older}": ("CONFIRMED", 2),
        f"ORDER#{newer}": ("REJECTED", 2),
    }
    assert eventually(lambda: queue_depth(cloud, "OrderSummariesQueue") == 0)
    assert queue_depth(cloud, "OrderSummariesDeadLetterQueue") == 0

    # And another customer sees none of them; a tampered cursor is a 400
    stranger = Client(cloud, cloud.token("e2e-list-stranger"))
    assert listed(stranger) == {"items": [], "nextCursor": None}
    status, refused = customer.call("GET", f"/orders?cursor={first['nextCursor']}x")
    assert (status, refused["code"]) == (400, "INVALID_CURSOR")


def test_the_rebuild_command_leaves_a_live_read_model_as_it_is(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a read model that has caught up with an order
    sku = new_product(admin, stock=2)
    customer = new_customer(cloud)
    order_id = place(customer, sku, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    assert eventually(
        lambda: summaries_of(cloud).get(f"ORDER#{order_id}", {}).get("status") == "CONFIRMED"
    )
    assert eventually(lambda: queue_depth(cloud, "OrderSummariesQueue") == 0)
    before = summaries_of(cloud)

    # When `make rebuild-order-summaries` runs its command against this localcloud
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rebuild_order_summaries",
            "--orders-table",
            "OrdersTable",
            "--summaries-table",
            SUMMARIES,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "AWS_ENDPOINT_URL": cloud.aws_url,
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "PYTHONPATH": os.pathsep.join(["layers/shared", "functions/orders"]),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it rewrote every order's summary from the event store, which changed none of them
    assert result.returncode == 0, result.stderr
    orders = len({i["pk"] for i in scan(cloud, "OrdersTable") if i["sk"] == "V#000001"})
    assert f"{orders} orders in OrdersTable: {orders} summaries written" in result.stdout
    assert summaries_of(cloud) == before


def test_the_api_documents_itself_publicly(cloud: RunningLocalCloud) -> None:
    def get(path: str) -> tuple[int, str, str]:
        with urllib.request.urlopen(f"{cloud.api_url}{path}", timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()

    status, content_type, text = get("/openapi.json")
    assert (status, content_type) == (200, "application/json")
    assert text == (ROOT / "functions" / "api_docs" / "openapi.json").read_text(encoding="utf-8")
    assert "/orders" in json.loads(text)["paths"]

    status, content_type, page = get("/docs")
    assert (status, content_type) == (200, "text/html")
    assert "SwaggerUIBundle" in page
