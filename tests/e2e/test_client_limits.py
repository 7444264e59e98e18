"""The per-customer limit on POST /orders, end to end (issue 11, finding 5): over it, the
answer is 429 with Retry-After and the refused request leaves nothing behind: no order, no
stock held, no saga, no event; a replayed Idempotency-Key is answered and not counted.
(The per-IP web ACL has its own tests: tests/localcloud/test_waf.py.)"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.bus import capture_the_bus, drain
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shop import (
    SAGA_OVERRIDES,
    Client,
    final_order,
    new_customer,
    new_product,
    scan,
    stock_of,
    sub_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-client-limits")]

LIMIT = 2
WINDOW = 86400  # fixed windows from midnight UTC: the test's orders fall in one


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    overrides = {
        **SAGA_OVERRIDES,
        "OrderPlacementLimit": str(LIMIT),
        "OrderPlacementLimitWindowSeconds": str(WINDOW),
    }
    with localcloud_process(tmp_path_factory.mktemp("client-limits"), overrides=overrides) as c:
        yield c


def post_order(
    customer: Client, sku: str, key: str | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST /orders, with the response's headers (Client.call drops them)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {customer.token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"items": [{"sku": sku, "quantity": 1}], "paymentToken": "tok_visa"}
    request = urllib.request.Request(
        f"{customer.base}/orders", method="POST", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def wait_clear_of_a_window_boundary() -> None:
    left = WINDOW - time.time() % WINDOW
    if left < 60:
        time.sleep(left + 1)


def test_an_order_over_the_customers_limit_is_429_and_leaves_nothing_behind(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a reader of the bus, a product with stock 5, and a customer who placed the limit's
    # worth of orders, the first with an Idempotency-Key
    queue_url = capture_the_bus(cloud, f"limits-{uuid.uuid4().hex[:8]}")
    sku = new_product(admin, stock=5)
    customer = new_customer(cloud)
    wait_clear_of_a_window_boundary()
    key = f"first-{uuid.uuid4().hex[:8]}"
    first = post_order(customer, sku, key)
    second = post_order(customer, sku)
    assert (first[0], second[0]) == (202, 202), (first, second)
    placed = [first[2]["orderId"], second[2]["orderId"]]

    # When the customer places one more, and replays the first order's key
    refused = post_order(customer, sku)
    replay = post_order(customer, sku, key)

    # Then the third is refused with 429, Retry-After and the error body
    status, headers, body = refused
    assert status == 429, refused
    assert body["code"] == "TOO_MANY_ORDERS"
    assert body["message"]
    assert 1 <= int(headers["Retry-After"]) <= WINDOW
    # And the replay answers the first order again (not counted, not refused)
    assert replay[0] == 202
    assert replay[2] == first[2]
    # And only the two orders exist, are confirmed, and hold the stock: nothing for the third
    assert [final_order(customer, o)["status"] for o in placed] == ["CONFIRMED", "CONFIRMED"]
    sub = sub_of(customer)
    orders_of_customer = {
        i["pk"]
        for i in scan(cloud, "OrdersTable")
        if i.get("detailType") == "OrderPlaced" and i.get("customerId") == sub
    }
    assert orders_of_customer == {f"ORDER#{o}" for o in placed}
    assert stock_of(cloud, sku) == 5 - 2

    def listed() -> list[str]:
        status, page = customer.call("GET", "/orders")
        assert status == 200, page
        return sorted(o["orderId"] for o in page["items"])

    assert eventually(lambda: listed() == sorted(placed)), listed()
    # And the bus carried OrderPlaced for the two orders only
    events: list[dict[str, Any]] = []

    def both_confirmed_on_the_bus() -> bool:
        events.extend(json.loads(body) for body in drain(cloud, queue_url))
        confirmed = {
            e["detail"]["data"]["orderId"] for e in events if e["detail-type"] == "OrderConfirmed"
        }
        return confirmed >= set(placed)

    assert eventually(both_confirmed_on_the_bus), "the orders' confirmations reached the bus"
    placed_events = [
        e["detail"]["data"]["orderId"]
        for e in events
        if e["detail-type"] == "OrderPlaced" and e["detail"]["data"].get("customerId") == sub
    ]
    assert sorted(placed_events) == sorted(placed)


def test_concurrent_orders_of_one_customer_are_admitted_up_to_the_limit_only(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # Given a customer with no order yet, and a product in stock
    sku = new_product(admin, stock=20)
    customer = new_customer(cloud)
    wait_clear_of_a_window_boundary()

    # When six orders arrive at once (PlaceOrder runs in several workers at a time)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post_order(customer, sku), range(6)))

    # Then exactly the limit's worth is placed, the rest refused with 429 and Retry-After
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [202] * LIMIT + [429] * (6 - LIMIT), answers
    assert all("Retry-After" in headers for status, headers, _ in answers if status == 429)
    sub = sub_of(customer)
    placed = [
        i
        for i in scan(cloud, "OrdersTable")
        if i.get("detailType") == "OrderPlaced" and i.get("customerId") == sub
    ]
    assert len(placed) == LIMIT
