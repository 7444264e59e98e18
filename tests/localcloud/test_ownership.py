"""Ownership on localcloud (issue 11): no customer reads, lists, cancels or gets the details of
another's order, or reads another's profile, whatever ids, cursors or keys they send. Every
owner route is tried with another customer's ids; each answers as if the thing did not exist
(404, so ids can't be probed) or with the caller's own data, and nothing changes.

The authorizer's side (forged tokens) is in test_apigateway.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud
from tests.support.polling import eventually
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import (
    Client,
    final_order,
    new_customer,
    new_product,
    order_events,
    sub_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(SHOP_GROUP)]


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


class World:
    """Alice with a CONFIRMED order (placed with an Idempotency-Key) and a list of two pages;
    Mallory, a registered customer with nothing of Alice's."""

    def __init__(self, cloud: RunningLocalCloud) -> None:
        admin = Client(cloud, cloud.token("owner-admin", admin=True))
        self.sku = new_product(admin, stock=10)
        self.alice = new_customer(cloud)
        self.mallory = new_customer(cloud)
        self.key = f"alice-{uuid.uuid4().hex[:8]}"
        self.body = {"items": [{"sku": self.sku, "quantity": 1}], "paymentToken": "tok_visa"}
        status, placed = self.alice.call(
            "POST", "/orders", self.body, headers={"Idempotency-Key": self.key}
        )
        assert status == 202, placed
        self.order_id = str(placed["orderId"])
        self.second_id = self._place(self.alice)
        for order_id in (self.order_id, self.second_id):
            assert final_order(self.alice, order_id)["status"] == "CONFIRMED"
        assert eventually(lambda: len(self.listed(self.alice)["items"]) == 2)
        status, page = self.alice.call("GET", "/orders?limit=1")
        assert status == 200, page
        self.alice_cursor = str(page["nextCursor"])

    def _place(self, client: Client) -> str:
        status, placed = client.call("POST", "/orders", self.body)
        assert status == 202, placed
        return str(placed["orderId"])

    @staticmethod
    def listed(client: Client, query: str = "") -> dict[str, Any]:
        status, page = client.call("GET", f"/orders{query}")
        assert status == 200, page
        return page  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(cloud: RunningLocalCloud) -> World:
    return World(cloud)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders/{order}"),
        ("GET", "/orders/{order}?asOf=2099-01-01T00:00:00Z"),
        ("GET", "/orders/{order}/details"),
        ("POST", "/orders/{order}/cancel"),
    ],
)
def test_another_customers_order_is_not_found_on_every_owner_route(
    cloud: RunningLocalCloud, world: World, method: str, path: str
) -> None:
    # Given Alice's confirmed order and its history
    before = order_events(cloud, world.order_id)

    # When Mallory asks for it by its id
    status, body = world.mallory.call(method, path.format(order=world.order_id))

    # Then it does not exist for her, as an id that exists nowhere, and nothing changed
    missing_status, missing = world.mallory.call(method, path.format(order=uuid.uuid4()))
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert (status, body) == (missing_status, missing)
    assert order_events(cloud, world.order_id) == before
    assert final_order(world.alice, world.order_id)["status"] == "CONFIRMED"


def test_another_customers_list_shows_none_of_alices_orders(world: World) -> None:
    assert world.listed(world.mallory) == {"items": [], "nextCursor": None}


def test_alices_cursor_is_refused_to_another_customer(world: World) -> None:
    status, body = world.mallory.call("GET", f"/orders?cursor={world.alice_cursor}")

    assert (status, body["code"]) == (400, "INVALID_CURSOR")
    # and it still works for Alice: her second page is her older order
    assert [
        o["orderId"] for o in world.listed(world.alice, f"?cursor={world.alice_cursor}")["items"]
    ] == [world.order_id]


def test_alices_idempotency_key_gives_another_customer_an_order_of_her_own(
    cloud: RunningLocalCloud, world: World
) -> None:
    # When Mallory replays Alice's request with Alice's Idempotency-Key
    status, placed = world.mallory.call(
        "POST", "/orders", world.body, headers={"Idempotency-Key": world.key}
    )

    # Then she gets a new order, hers, not Alice's order back
    assert status == 202, placed
    assert placed["orderId"] not in (world.order_id, world.second_id)
    order = final_order(world.mallory, placed["orderId"])
    assert order["customerId"] == sub_of(world.mallory)
    status, alices = world.mallory.call("GET", f"/orders/{world.order_id}")
    assert status == 404, alices


def test_a_profile_is_only_ever_the_callers_own(world: World) -> None:
    # Given two registered customers
    status, mine = world.mallory.call("GET", "/customers/me")

    # Then each reads their own profile, and registering again can't overwrite it
    assert status == 200, mine
    assert mine["customerId"] == sub_of(world.mallory)
    status, again = world.mallory.call(
        "POST",
        "/customers",
        {
            "name": "Alice",
            "address": {"line1": "1 Main St", "city": "Berlin", "postalCode": "1", "country": "DE"},
        },
    )
    assert (status, again["code"]) == (409, "CUSTOMER_EXISTS")
    status, alice = world.alice.call("GET", "/customers/me")
    assert alice["customerId"] == sub_of(world.alice) != mine["customerId"]


def test_an_owner_route_without_a_token_is_401(cloud: RunningLocalCloud, world: World) -> None:
    anonymous = Client(cloud, None)
    for method, path in [
        ("GET", f"/orders/{world.order_id}"),
        ("GET", f"/orders/{world.order_id}/details"),
        ("POST", f"/orders/{world.order_id}/cancel"),
        ("GET", "/orders"),
        ("GET", "/customers/me"),
    ]:
        status, body = anonymous.call(method, path)
        assert (status, body["code"]) == (401, "UNAUTHORIZED"), (method, path)
