"""The shop's API and tables on a running localcloud, for the end-to-end tests: an API client
with a customer's or an admin's token, new products and registered customers, orders placed and
waited for, and what each service's table and the payment provider hold."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import jwt
from boto3.dynamodb.types import TypeDeserializer

from tests.support.localcloud_process import RunningLocalCloud
from tests.support.polling import eventually

# Short saga retries, so a failing step ends the saga in seconds.
SAGA_OVERRIDES = {
    "SagaRetryIntervalSeconds": "1",
    "SagaRetryMaxAttempts": "1",
    "SagaCompensationRetryIntervalSeconds": "1",
    "SagaCompensationRetryMaxAttempts": "1",
}
# The per-client limits (issue 11, finding 5) far above what a fuzzer, a benchmark or a test
# sends from one IP and one customer: those runs are about something else, and the limits have
# tests of their own (tests/localcloud/test_waf.py; POST /orders' 429 in tests/integration and
# tests/e2e/test_client_limits.py). WAF's highest rate limit is 2,000,000,000.
ROOMY_CLIENT_LIMITS = {"WafRateLimit": "2000000000", "OrderPlacementLimit": "1000000"}
_deserialize = TypeDeserializer().deserialize
POLE = {"line1": "Amundsen-Scott", "city": "South Pole", "postalCode": "0000", "country": "AQ"}


class Client:
    def __init__(self, cloud: RunningLocalCloud, token: str | None) -> None:
        self.base = cloud.api_url
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=all_headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def item(cloud: RunningLocalCloud, table: str, **key: str) -> dict[str, Any] | None:
    found = cloud.aws.dynamodb.get_item(
        TableName=table, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
    ).get("Item")
    return {k: _deserialize(v) for k, v in found.items()} if found else None


def scan(cloud: RunningLocalCloud, table: str) -> list[dict[str, Any]]:
    items = cloud.aws.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return [{k: _deserialize(v) for k, v in i.items()} for i in items]


def order_events(cloud: RunningLocalCloud, order_id: str) -> list[str]:
    return [
        i["detailType"]
        for i in sorted(scan(cloud, "OrdersTable"), key=lambda i: i["sk"])
        if i["pk"] == f"ORDER#{order_id}"
    ]


def outbox(cloud: RunningLocalCloud, table: str, detail_type: str, order_id: str) -> list[Any]:
    return [
        json.loads(i["detail"])
        for i in scan(cloud, table)
        if i.get("detailType") == detail_type
        and json.loads(i["detail"])["data"].get("orderId") == order_id
    ]


def provider_charges(cloud: RunningLocalCloud, order_id: str) -> list[dict[str, Any]]:
    """The payment provider's charges with the order's reference."""
    return provider_items(cloud, f"/v1/charges?reference={order_id}")


def provider_refunds(cloud: RunningLocalCloud, charge_id: str) -> list[dict[str, Any]]:
    """The payment provider's refunds of a charge."""
    return provider_items(cloud, f"/v1/charges/{charge_id}/refunds")


def provider_items(cloud: RunningLocalCloud, path: str) -> list[dict[str, Any]]:
    """A listing of the payment provider's API, read with the key the functions use."""
    status = cloud.status()
    arn = status["environments"]["ChargePaymentFunction"]["PAYMENT_PROVIDER_API_KEY_SECRET_ARN"]
    key = cloud.aws.secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
    request = urllib.request.Request(
        f"{status['paymentProviderUrl']}{path}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["items"]


def final_order(client: Client, order_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        status, body = client.call("GET", f"/orders/{order_id}")
        assert status == 200, body
        return body if body["status"] != "PENDING" else None

    order = eventually(settled)
    assert order, f"order {order_id} still PENDING"
    return order


def new_product(admin: Client, stock: int, price: int = 1250) -> str:
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    status, body = admin.call(
        "PUT",
        f"/products/{sku}",
        {"name": "Test product", "priceCents": price, "currency": "EUR", "stock": stock},
    )
    assert status == 201, body
    return sku


def new_customer(cloud: RunningLocalCloud) -> Client:
    username = f"user-{uuid.uuid4().hex[:8]}"
    client = Client(cloud, cloud.token(username))
    status, body = client.call(
        "POST",
        "/customers",
        {
            "name": "Erika Mustermann",
            "email": f"{username}@example.com",
            "address": {
                "line1": "Hauptstr. 1",
                "city": "Berlin",
                "postalCode": "10115",
                "country": "DE",
            },
        },
    )
    assert status == 201, body
    # Shipping learns the registered address from CustomerRegistered (bus -> ShippingQueue);
    # an order placed without an address before it arrives would be SHIPPING_UNAVAILABLE.
    sub = sub_of(client)
    assert eventually(lambda: item(cloud, "ShippingTable", pk=f"ADDRESS#{sub}")), "no address"
    return client


def stock_of(cloud: RunningLocalCloud, sku: str) -> int:
    product = item(cloud, "InventoryTable", pk=f"PRODUCT#{sku}")
    assert product is not None
    return int(product["stock"])


# ---------------------------------------------------------------- the happy path


def sub_of(client: Client) -> str:
    assert client.token
    return str(jwt.decode(client.token, options={"verify_signature": False})["sub"])


def place(customer: Client, sku: str, quantity: int, token: str, **extra: Any) -> str:
    status, placed = customer.call(
        "POST",
        "/orders",
        {"items": [{"sku": sku, "quantity": quantity}], "paymentToken": token, **extra},
    )
    assert status == 202, placed
    return str(placed["orderId"])


def settled(client: Client, order_id: str, *waiting: str) -> dict[str, Any]:
    """The order once its status is none of `waiting`."""

    def check() -> dict[str, Any] | None:
        status, body = client.call("GET", f"/orders/{order_id}")
        assert status == 200, body
        return body if body["status"] not in waiting else None

    order = eventually(check)
    assert order, f"order {order_id} still in {waiting}"
    return order
