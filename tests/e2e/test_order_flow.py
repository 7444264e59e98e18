"""End to end on localcloud, started the way `make run` starts it, through the public API.

Each test asserts the end state of every table the path touches, the events that reached
the consumers, and what the payment provider saw.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from tests.support.localcloud_process import ROOT, RunningLocalCloud
from tests.support.polling import eventually
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import (
    Client,
    final_order,
    item,
    new_customer,
    new_product,
    order_events,
    outbox,
    provider_charges,
    scan,
    stock_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(SHOP_GROUP)]


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


def test_an_order_is_confirmed_and_every_service_shows_it(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)
    assert customer.call("GET", f"/products/{sku}")[1]["available"] == 5

    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 2}], "paymentToken": "tok_visa"}
    )
    assert status == 202, placed
    assert placed["status"] == "PENDING"
    order_id = placed["orderId"]

    order = final_order(customer, order_id)
    assert order["status"] == "CONFIRMED"
    assert order["totalCents"] == 2500
    assert order["currency"] == "EUR"
    assert [h["status"] for h in order["history"]] == ["PENDING", "CONFIRMED"]

    # inventory: stock taken once, reservation priced from the catalog, event in the outbox
    assert stock_of(cloud, sku) == 3
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")
    assert reservation is not None
    assert reservation["status"] == "RESERVED"
    assert int(reservation["totalCents"]) == 2500
    assert len(outbox(cloud, "InventoryTable", "StockReserved", order_id)) == 1
    # payments: one charge at the provider, one record, one event
    payment = item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")
    assert payment is not None
    assert payment["status"] == "CHARGED"
    assert int(payment["amountCents"]) == 2500
    assert len(provider_charges(cloud, order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    # orders: the event store holds exactly the two events
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderConfirmed"]
    # the saga ran once, named after the order
    executions = cloud.aws.stepfunctions.list_executions(
        stateMachineArn=cloud.status()["environments"]["StartOrderWorkflowsFunction"][
            "ORDER_SAGA_STATE_MACHINE_ARN"
        ]
    )["executions"]
    assert [e["status"] for e in executions if e["name"] == order_id] == ["SUCCEEDED"]

    # notifications: OrderConfirmed reached the consumer exactly once
    def emails() -> list[dict[str, Any]]:
        return [
            m for m in cloud.sent_emails() if order_id in (m["subject"] or "") + (m["body"] or "")
        ]

    assert eventually(emails), "no confirmation email was sent"
    time.sleep(2)  # room for a duplicate delivery to show up, were there one
    sent = emails()
    assert len(sent) == 1
    assert sent[0]["destinations"]["ToAddresses"] == [customer_email(customer)]
    sent_records = [i for i in scan(cloud, "NotificationsTable") if i["pk"].startswith("SENT#")]
    assert sum(order_id in json.dumps(i, default=str) for i in sent_records) == 1


def customer_email(client: Client) -> str:
    """`localcloud token <user>` gives the user the address <user>@example.com."""
    assert client.token
    username = jwt.decode(client.token, options={"verify_signature": False})["cognito:username"]
    return f"{username}@example.com"


# ---------------------------------------------------------------- rejections
def test_an_order_over_the_stock_is_rejected_and_nothing_is_taken(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    sku = new_product(admin, stock=1)
    customer = new_customer(cloud)

    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 2}], "paymentToken": "tok_visa"}
    )
    assert status == 202, placed
    order = final_order(customer, placed["orderId"])

    assert order["status"] == "REJECTED"
    assert order["reason"] == "OUT_OF_STOCK"
    assert stock_of(cloud, sku) == 1
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{placed['orderId']}")
    assert reservation is None or reservation["status"] != "RESERVED"
    assert item(cloud, "PaymentsTable", pk=f"PAYMENT#{placed['orderId']}") is None
    assert provider_charges(cloud, placed["orderId"]) == []
    assert order_events(cloud, placed["orderId"]) == ["OrderPlaced", "OrderRejected"]


def test_a_declined_payment_rejects_the_order_and_gives_the_stock_back(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    sku = new_product(admin, stock=4)
    customer = new_customer(cloud)

    status, placed = customer.call(
        "POST",
        "/orders",
        {"items": [{"sku": sku, "quantity": 3}], "paymentToken": "tok_declined"},
    )
    assert status == 202, placed
    order_id = placed["orderId"]
    order = final_order(customer, order_id)

    assert order["status"] == "REJECTED"
    assert order["reason"] == "PAYMENT_DECLINED"
    assert stock_of(cloud, sku) == 4
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")
    assert reservation is not None
    assert reservation["status"] == "RELEASED"
    assert len(outbox(cloud, "InventoryTable", "StockReserved", order_id)) == 1
    assert len(outbox(cloud, "InventoryTable", "StockReleased", order_id)) == 1
    assert item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}") is None
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderRejected"]


# ---------------------------------------------------------------- the edge of the API
def test_a_request_without_a_token_is_401(cloud: RunningLocalCloud) -> None:
    status, body = Client(cloud, None).call(
        "POST", "/orders", {"items": [{"sku": "KB-001", "quantity": 1}], "paymentToken": "tok_visa"}
    )

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"
    assert body["message"]


def test_a_user_who_is_not_admin_cannot_change_the_catalog(cloud: RunningLocalCloud) -> None:
    status, body = Client(cloud, cloud.token("not-an-admin")).call(
        "PUT", "/products/NOPE-1", {"name": "x", "priceCents": 1, "currency": "EUR", "stock": 1}
    )

    assert (status, body["code"]) == (403, "FORBIDDEN")
    assert item(cloud, "InventoryTable", pk="PRODUCT#NOPE-1") is None


def test_health_is_public(cloud: RunningLocalCloud) -> None:
    status, body = Client(cloud, None).call("GET", "/health")

    assert status == 200
    assert body["status"] == "ok"


# ---------------------------------------------------------------- every function, alone
def test_every_function_runs_with_its_sample_event(cloud: RunningLocalCloud) -> None:
    functions = cloud.status()["environments"]
    handlers = _handler_modules()
    missing = [
        name for name in functions if not (ROOT / "events" / f"{handlers[name]}.json").exists()
    ]
    assert not missing, f"functions without a sample event in events/: {missing}"

    lambda_ = cloud.aws.client("lambda")  # as localcloud's admin, like `sam local invoke`
    for name in sorted(functions):
        event = (ROOT / "events" / f"{handlers[name]}.json").read_bytes()
        response = lambda_.invoke(FunctionName=name, Payload=event)
        payload = json.loads(response["Payload"].read() or b"null")
        error = response.get("FunctionError")
        if error:  # a business answer to a sample that names no real order is fine, a crash is not
            assert not payload["errorType"].startswith(("Runtime.", "Sandbox.")), (name, payload)
            assert payload["errorType"] not in (
                "KeyError",
                "TypeError",
                "AttributeError",
                "ValidationError",
            ), (name, payload)
        elif isinstance(payload, dict) and "statusCode" in payload:
            assert payload["statusCode"] < 500, (name, payload)


def _handler_modules() -> dict[str, str]:
    from localcloud.cloudformation.template import Template

    template = Template.load(ROOT / "template.yaml")
    return {
        name: properties["Handler"].rsplit(".", 1)[0].rsplit(".", 1)[-1]
        for name, properties in template.of_type("AWS::Lambda::Function")
    }
