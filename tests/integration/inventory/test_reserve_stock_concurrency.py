"""Stock under concurrency: many orders for the last units at once, reserve_stock.handler on
threads against one moto. Stock never goes negative and exactly what was on hand is sold.

DynamoDB applies each request atomically: a conditional write, or a transaction's conditions
and writes, happen as one step no other request sees half-done. moto's in-process backend does
not: `transact_write_items` checks, writes and, on a failed condition, restores deep copies of
whole tables, with no lock, so threads interleave inside one request (measured here without the
`atomic_dynamodb` fixture: 9 of 16 orders "reserved" the last 3 mugs). The fixture gives moto
that one guarantee by serving one DynamoDB request at a time; the code under test still races
freely between its requests (read the reservation, read the products, write), and the last test
shows the harness catches a check-then-write that relies on reading first.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler

from inventory.errors import OutOfStock

ORDERS = 16


@pytest.fixture(autouse=True)
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """One DynamoDB request at a time, as DynamoDB's per-request atomicity would have it."""
    lock = threading.Lock()
    serve = DynamoHandler.call_action

    def one_at_a_time(self: DynamoHandler) -> Any:
        with lock:
            return serve(self)

    monkeypatch.setattr(DynamoHandler, "call_action", one_at_a_time)


def race(reserve: Callable[[dict[str, Any]], Any], sample_event: Any, items: list[Any]) -> Any:
    """ORDERS threads reserve `items` for their own order at the same moment."""
    barrier = threading.Barrier(ORDERS)
    outcomes: dict[str, Any] = {}

    def order(order_id: str) -> None:
        event = sample_event("reserve_stock")
        event["orderId"] = order_id
        event["items"] = items
        barrier.wait()
        try:
            outcomes[order_id] = reserve(event)
        except Exception as error:  # collected, asserted below
            outcomes[order_id] = error

    threads = [
        threading.Thread(target=order, args=(f"order-{uuid.uuid4().hex[:12]}",))
        for _ in range(ORDERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == ORDERS
    return outcomes


def test_concurrent_orders_for_the_last_units_sell_exactly_the_stock(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given 5 espresso on hand
    inventory.seed_product("ESPRESSO-250G", stock=5, price_cents=1290)

    # When 16 orders for one each arrive at once
    outcomes = race(
        lambda event: reserve_stock.handler(event, lambda_context),
        sample_event,
        [{"sku": "ESPRESSO-250G", "quantity": 1}],
    )

    # Then exactly 5 are reserved and the other 11 are out of stock
    reserved = {o: r for o, r in outcomes.items() if isinstance(r, dict)}
    refused = {o: r for o, r in outcomes.items() if not isinstance(r, dict)}
    assert len(reserved) == 5, outcomes
    assert all(isinstance(error, OutOfStock) for error in refused.values()), refused
    # and the table agrees: stock 0, never below, one reservation and one event per sale
    assert inventory.stock() == {"ESPRESSO-250G": 0}
    reservations = {
        item["orderId"] for pk, item in inventory.items().items() if pk.startswith("RESERVATION#")
    }
    assert reservations == set(reserved)
    assert [detail_type for detail_type, _ in inventory.outbox()] == ["StockReserved"] * 5


def test_concurrent_multi_line_orders_are_all_or_nothing(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given 5 espresso but only 3 mugs on hand
    inventory.seed_product("ESPRESSO-250G", stock=5, price_cents=1290)
    inventory.seed_product("MUG-CERAMIC", stock=3, price_cents=890)

    # When 16 orders for one of each arrive at once
    outcomes = race(
        lambda event: reserve_stock.handler(event, lambda_context),
        sample_event,
        [{"sku": "ESPRESSO-250G", "quantity": 1}, {"sku": "MUG-CERAMIC", "quantity": 1}],
    )

    # Then the mugs limit the sales to 3; no order took an espresso without its mug
    reserved = [r for r in outcomes.values() if isinstance(r, dict)]
    refused = [r for r in outcomes.values() if not isinstance(r, dict)]
    assert len(reserved) == 3, outcomes
    assert all(isinstance(error, OutOfStock) for error in refused), refused
    assert inventory.stock() == {"ESPRESSO-250G": 2, "MUG-CERAMIC": 0}
    assert len([pk for pk in inventory.items() if pk.startswith("RESERVATION#")]) == 3
    assert [detail_type for detail_type, _ in inventory.outbox()] == ["StockReserved"] * 3


def test_the_harness_catches_a_check_then_write_that_oversells(
    sample_event: Any, inventory: Any
) -> None:
    # Given 5 espresso on hand, and a reservation that reads the stock, then writes it back
    # without a condition (what the conditional transaction of reserve_stock avoids)
    inventory.seed_product("ESPRESSO-250G", stock=5, price_cents=1290)
    table = boto3.resource("dynamodb").Table("InventoryTable")

    def check_then_write(event: dict[str, Any]) -> int:
        stock = int(table.get_item(Key={"pk": "PRODUCT#ESPRESSO-250G"})["Item"]["stock"])
        if stock < 1:
            raise OutOfStock("none left")
        time.sleep(0.01)  # whatever work happens between the read and the write
        table.update_item(
            Key={"pk": "PRODUCT#ESPRESSO-250G"},
            UpdateExpression="SET stock = :left",
            ExpressionAttributeValues={":left": stock - 1},
        )
        return stock - 1

    # When 16 orders arrive at once
    outcomes = race(check_then_write, sample_event, [{"sku": "ESPRESSO-250G", "quantity": 1}])

    # Then more than the 5 on hand were "sold": the assertions above would have failed
    sold = [o for o in outcomes.values() if isinstance(o, int)]
    assert len(sold) > 5
