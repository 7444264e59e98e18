"""Saga step ReserveStock: reserve_stock.handler in-process on moto."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inventory.errors import MixedCurrencies, OutOfStock, ProductNotFound
from tests.support.client_calls import dynamodb_calls

ORDER_ID = "01JDQ7Z6Y5X4W3V2T1S0R9Q8P7"  # the sample event's
LINES = [
    {"sku": "ESPRESSO-250G", "quantity": 2, "unitPriceCents": 1290},
    {"sku": "MUG-CERAMIC", "quantity": 1, "unitPriceCents": 890},
]


def reserve_input(sample_event: Any, *items: tuple[str, int], order_id: str = ORDER_ID) -> Any:
    event = sample_event("reserve_stock")
    event["orderId"] = order_id
    event["items"] = [{"sku": sku, "quantity": quantity} for sku, quantity in items]
    return event


@pytest.fixture
def catalog(inventory: Any) -> Any:
    """10 espresso at 12.90 EUR and 3 mugs at 8.90 EUR on hand."""
    inventory.seed_product("ESPRESSO-250G", stock=10, price_cents=1290)
    inventory.seed_product("MUG-CERAMIC", stock=3, price_cents=890)
    return inventory


def test_every_line_is_reserved_at_catalog_prices(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given 10 espresso and 3 mugs on hand
    # When the saga reserves 2 espresso and 1 mug (the sample event)
    result = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then the result is priced from the catalog
    assert result == {"lines": LINES, "totalCents": 3470, "currency": "EUR"}
    # and the stock is taken, the reservation stored, and a StockReserved event written
    assert catalog.stock() == {"ESPRESSO-250G": 8, "MUG-CERAMIC": 2}
    reservation = catalog.items()[f"RESERVATION#{ORDER_ID}"]
    assert reservation["itemType"] == "RESERVATION"
    assert reservation["status"] == "RESERVED"
    assert reservation["orderId"] == ORDER_ID
    assert reservation["lines"] == LINES
    assert (reservation["totalCents"], reservation["currency"]) == (3470, "EUR")
    assert catalog.outbox() == [("StockReserved", {"orderId": ORDER_ID, **result})]
    assert len(catalog.items()) == 4  # two products, the reservation, the event


def test_a_short_second_line_reserves_nothing(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given 3 mugs on hand
    before = catalog.items()
    event = reserve_input(sample_event, ("ESPRESSO-250G", 2), ("MUG-CERAMIC", 4))

    # When an order wants 2 espresso (available) and 4 mugs (short)
    with pytest.raises(OutOfStock, match="MUG-CERAMIC") as raised:
        reserve_stock.handler(event, lambda_context)

    # Then OutOfStock (the errorType the saga matches) names the SKU, and nothing changed
    assert type(raised.value).__name__ == "OutOfStock"
    assert raised.value.code == "OUT_OF_STOCK"
    assert catalog.items() == before
    assert catalog.outbox() == []


def test_stock_never_goes_negative(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given an order took the last 3 mugs
    reserve_stock.handler(reserve_input(sample_event, ("MUG-CERAMIC", 3)), lambda_context)
    assert catalog.stock()["MUG-CERAMIC"] == 0

    # When another order wants one more
    with pytest.raises(OutOfStock, match="MUG-CERAMIC"):
        reserve_stock.handler(
            reserve_input(sample_event, ("MUG-CERAMIC", 1), order_id="ORDER-2"), lambda_context
        )

    # Then it is out of stock, and stock stays at 0
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 0}
    assert "RESERVATION#ORDER-2" not in catalog.items()
    assert [detail_type for detail_type, _ in catalog.outbox()] == ["StockReserved"]


def test_reserving_twice_returns_the_same_reservation_and_takes_stock_once(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given the order is reserved
    first = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)
    after_first = catalog.items()

    # When the step runs again (a retry or a duplicate execution)
    second = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then the same reservation comes back and nothing changed
    assert second == first
    assert catalog.items() == after_first
    assert catalog.stock() == {"ESPRESSO-250G": 8, "MUG-CERAMIC": 2}
    assert len(catalog.outbox()) == 1


def test_a_first_reservation_reads_the_catalog_and_writes_without_reading_the_reservation(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given the order has no reservation
    calls = dynamodb_calls(reserve_stock)

    # When the step runs
    result = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then the catalog was read and the reservation written, conditionally: two requests
    assert calls == ["BatchGetItem", "TransactWriteItems"]
    assert result == {"lines": LINES, "totalCents": 3470, "currency": "EUR"}
    assert catalog.stock() == {"ESPRESSO-250G": 8, "MUG-CERAMIC": 2}


def test_a_concurrent_duplicate_that_wins_the_race_is_returned(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    # Given a twin invocation reserved the order, at other prices, while this one read the
    # catalog
    winner = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)
    catalog.seed_product("MUG-CERAMIC", stock=2, price_cents=990)
    calls = dynamodb_calls(reserve_stock)

    # When this one writes (its transaction's condition on the reservation fails)
    result = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then it reads and returns the winner's reservation; stock was taken once
    assert calls == ["BatchGetItem", "TransactWriteItems", "GetItem"]
    assert result == winner
    assert catalog.stock() == {"ESPRESSO-250G": 8, "MUG-CERAMIC": 2}
    assert len(catalog.outbox()) == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"sku": "MUG-CERAMIC", "stock": 0, "price_cents": 890}, id="short"),
        pytest.param(
            {"sku": "MUG-CERAMIC", "stock": 2, "price_cents": 890, "currency": "USD"},
            id="another-currency",
        ),
    ],
)
def test_a_retry_answers_the_first_reservation_whatever_the_catalog_says_now(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any, change: Any
) -> None:
    # Given the order is reserved, and since then the mugs ran out or changed currency
    first = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)
    catalog.seed_product(**change)
    after_change = catalog.items()

    # When the step runs again
    again = reserve_stock.handler(sample_event("reserve_stock"), lambda_context)

    # Then the first reservation comes back (no OutOfStock, no MixedCurrencies), nothing changed
    assert again == first
    assert catalog.items() == after_change
    assert len(catalog.outbox()) == 1


def test_the_same_sku_on_two_lines_is_reserved_as_one(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    event = reserve_input(sample_event, ("MUG-CERAMIC", 1), ("MUG-CERAMIC", 2))

    result = reserve_stock.handler(event, lambda_context)

    assert result["lines"] == [{"sku": "MUG-CERAMIC", "quantity": 3, "unitPriceCents": 890}]
    assert result["totalCents"] == 2670
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 0}


def test_an_unknown_sku_reserves_nothing(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    before = catalog.items()
    event = reserve_input(sample_event, ("MUG-CERAMIC", 1), ("NO-SUCH-SKU", 1))

    with pytest.raises(ProductNotFound, match="NO-SUCH-SKU"):
        reserve_stock.handler(event, lambda_context)

    assert catalog.items() == before


def test_products_in_two_currencies_reserve_nothing(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any
) -> None:
    catalog.seed_product("TEA-USA", stock=5, currency="USD")
    before = catalog.items()
    event = reserve_input(sample_event, ("MUG-CERAMIC", 1), ("TEA-USA", 1))

    with pytest.raises(MixedCurrencies, match="EUR, USD"):
        reserve_stock.handler(event, lambda_context)

    assert catalog.items() == before


@pytest.mark.parametrize(
    "change",
    [
        {"items": []},
        {"items": [{"sku": "MUG-CERAMIC", "quantity": 0}]},
        {"items": [{"sku": "mug", "quantity": 1}]},
        {"orderId": ""},
    ],
)
def test_malformed_input_is_rejected_before_anything_is_written(
    reserve_stock: Any, sample_event: Any, lambda_context: Any, catalog: Any, change: Any
) -> None:
    before = catalog.items()

    with pytest.raises(ValidationError):
        reserve_stock.handler({**sample_event("reserve_stock"), **change}, lambda_context)

    assert catalog.items() == before
