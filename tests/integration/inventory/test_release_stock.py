"""Saga compensation ReleaseStock: release_stock.handler in-process on moto."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.errors import ReservationReleased

ORDER_ID = "01JDQ7Z6Y5X4W3V2T1S0R9Q8P7"  # the sample events'
RELEASED = {"orderId": ORDER_ID, "status": "RELEASED"}
ON_HAND = {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3}


@pytest.fixture
def reserved(inventory: Any, reserve_stock: Any, sample_event: Any, lambda_context: Any) -> Any:
    """The sample order holds 2 of 10 espresso and 1 of 3 mugs."""
    inventory.seed_product("ESPRESSO-250G", stock=10, price_cents=1290)
    inventory.seed_product("MUG-CERAMIC", stock=3, price_cents=890)
    reserve_stock.handler(sample_event("reserve_stock"), lambda_context)
    return inventory


def test_releasing_gives_the_stock_back(
    release_stock: Any, sample_event: Any, lambda_context: Any, reserved: Any
) -> None:
    # Given the order's stock is reserved
    # When the compensation runs (the sample event)
    result = release_stock.handler(sample_event("release_stock"), lambda_context)

    # Then the stock is back, the reservation RELEASED, and a StockReleased event written
    assert result == RELEASED
    assert reserved.stock() == ON_HAND
    reservation = reserved.items()[f"RESERVATION#{ORDER_ID}"]
    assert reservation["status"] == "RELEASED"
    assert reservation["updatedAt"] >= reservation["createdAt"]
    events = dict(reserved.outbox())
    assert sorted(events) == ["StockReleased", "StockReserved"]
    assert events["StockReleased"] == {
        "orderId": ORDER_ID,
        "lines": [{"sku": "ESPRESSO-250G", "quantity": 2}, {"sku": "MUG-CERAMIC", "quantity": 1}],
    }


def test_releasing_twice_restores_the_stock_once(
    release_stock: Any, sample_event: Any, lambda_context: Any, reserved: Any
) -> None:
    # Given the order was released
    release_stock.handler(sample_event("release_stock"), lambda_context)
    after_first = reserved.items()

    # When the compensation runs again
    result = release_stock.handler(sample_event("release_stock"), lambda_context)

    # Then it answers the same and changes nothing
    assert result == RELEASED
    assert reserved.items() == after_first
    assert reserved.stock() == ON_HAND
    assert [detail_type for detail_type, _ in reserved.outbox()] == [
        "StockReleased",
        "StockReserved",
    ]


def test_a_concurrent_release_that_wins_the_race_is_not_repeated(
    release_stock: Any, sample_event: Any, lambda_context: Any, reserved: Any
) -> None:
    # Given this invocation read the reservation as RESERVED, then a twin released it
    stale = release_stock.repository.get_reservation(ORDER_ID)
    release_stock.handler(sample_event("release_stock"), lambda_context)
    real_get = release_stock.repository.get_reservation
    reads: list[str] = []

    def get_reservation(order_id: str) -> Any:
        reads.append(order_id)
        return stale if len(reads) == 1 else real_get(order_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(release_stock.repository, "get_reservation", get_reservation)

        # When it writes (its condition status = RESERVED fails)
        result = release_stock.handler(sample_event("release_stock"), lambda_context)

    # Then it re-reads, finds it RELEASED, and the stock was given back once
    assert result == RELEASED
    assert len(reads) == 2
    assert reserved.stock() == ON_HAND
    assert [detail_type for detail_type, _ in reserved.outbox()] == [
        "StockReleased",
        "StockReserved",
    ]


def test_releasing_an_order_never_reserved_leaves_a_tombstone_that_blocks_a_late_reserve(
    release_stock: Any, reserve_stock: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given stock on hand and no reservation for the order (ReserveStock never ran)
    inventory.seed_product("ESPRESSO-250G", stock=10)
    inventory.seed_product("MUG-CERAMIC", stock=3)

    # When the compensation runs
    result = release_stock.handler(sample_event("release_stock"), lambda_context)

    # Then it answers RELEASED and leaves a tombstone; no stock changes, no event
    assert result == RELEASED
    tombstone = inventory.items()[f"RESERVATION#{ORDER_ID}"]
    assert (tombstone["status"], tombstone["lines"], tombstone["totalCents"]) == ("RELEASED", [], 0)
    assert inventory.stock() == ON_HAND
    assert inventory.outbox() == []

    # And when a late duplicate ReserveStock arrives, it raises and reserves nothing
    before = inventory.items()
    with pytest.raises(ReservationReleased, match=ORDER_ID):
        reserve_stock.handler(sample_event("reserve_stock"), lambda_context)
    assert inventory.items() == before


def test_a_released_order_cannot_be_reserved_again(
    release_stock: Any, reserve_stock: Any, sample_event: Any, lambda_context: Any, reserved: Any
) -> None:
    # Given the order was reserved, then released
    release_stock.handler(sample_event("release_stock"), lambda_context)
    before = reserved.items()

    # When ReserveStock runs again for it
    with pytest.raises(ReservationReleased, match="already released"):
        reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then nothing is reserved
    assert reserved.items() == before
    assert reserved.stock() == ON_HAND
