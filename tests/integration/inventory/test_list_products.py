"""GET /v1/products: list_products.handler in-process on moto (InventoryTable with its
CatalogBySku index, as template.yaml declares it)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.inventory.conftest import InventoryState


def list_request(sample_event: Any, **query: str) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("list_products")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def call(module: Any, event: dict[str, Any], context: Any) -> tuple[int, Any]:
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def seed_catalog(inventory: InventoryState, count: int) -> list[str]:
    """`count` products SKU-000, SKU-001, ... (stock n + 1, price 100 + n), put in reverse."""
    for n in reversed(range(count)):
        inventory.seed_product(f"SKU-{n:03d}", stock=n + 1, price_cents=100 + n)
    return [f"SKU-{n:03d}" for n in range(count)]


def reserve(reserve_stock: Any, context: Any, order_id: str, sku: str, quantity: int) -> None:
    reserve_stock.handler(
        {"orderId": order_id, "items": [{"sku": sku, "quantity": quantity}]}, context
    )


def test_paging_through_45_products_returns_each_once_in_sku_order(
    list_products: Any,
    reserve_stock: Any,
    sample_event: Any,
    lambda_context: Any,
    inventory: InventoryState,
) -> None:
    # Given 45 products, and reservations plus their outbox events beside them in the table
    skus = seed_catalog(inventory, 45)
    reserve(reserve_stock, lambda_context, "ORDER-1", "SKU-044", 1)
    reserve(reserve_stock, lambda_context, "ORDER-2", "SKU-010", 2)
    kinds = {pk.split("#")[0] for pk in inventory.items()}
    assert kinds == {"PRODUCT", "RESERVATION", "EVENT"}
    before = inventory.items()

    # When a client pages through with the default page size, following nextCursor
    pages: list[dict[str, Any]] = []
    query: dict[str, str] = {}
    while True:
        status, body = call(list_products, list_request(sample_event, **query), lambda_context)
        assert status == 200, body
        pages.append(body)
        if body["nextCursor"] is None:
            break
        query = {"cursor": body["nextCursor"]}

    # Then three pages of 20, 20 and 5, every product once, in SKU order, only products
    assert [len(page["items"]) for page in pages] == [20, 20, 5]
    listed = [item["sku"] for page in pages for item in page["items"]]
    assert listed == sorted(skus)
    first = pages[0]["items"][0]
    assert first == {
        "sku": "SKU-000",
        "name": "Product SKU-000",
        "priceCents": 100,
        "currency": "EUR",
        "available": 1,
    }
    # And "available" is the stock after the reservations, read from the table
    by_sku = {item["sku"]: item for page in pages for item in page["items"]}
    assert by_sku["SKU-044"]["available"] == 45 - 1
    assert by_sku["SKU-010"]["available"] == 11 - 2
    # And reading changed nothing
    assert inventory.items() == before


def test_the_same_cursor_gives_the_same_page(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    seed_catalog(inventory, 7)
    _, first = call(list_products, list_request(sample_event, limit="3"), lambda_context)

    again = [
        call(
            list_products,
            list_request(sample_event, limit="3", cursor=first["nextCursor"]),
            lambda_context,
        )[1]
        for _ in range(2)
    ]

    assert again[0] == again[1]
    assert [item["sku"] for item in again[0]["items"]] == ["SKU-003", "SKU-004", "SKU-005"]


@pytest.mark.parametrize("case", [("1", 1), ("100", 100), (None, 20)], ids=str)
def test_limit_bounds_are_served(
    case: tuple[str | None, int],
    list_products: Any,
    sample_event: Any,
    lambda_context: Any,
    inventory: InventoryState,
) -> None:
    limit, expected = case
    seed_catalog(inventory, 101)
    query = {"limit": limit} if limit else {}

    status, body = call(list_products, list_request(sample_event, **query), lambda_context)

    assert status == 200
    assert len(body["items"]) == expected
    assert body["nextCursor"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "2.5", "", "1e2", "9" * 40])
def test_a_limit_out_of_bounds_is_400(
    limit: str, list_products: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    status, body = call(list_products, list_request(sample_event, limit=limit), lambda_context)

    assert status == 400, body
    assert body["code"] == "VALIDATION_ERROR"
    assert "limit" in body["message"]


def test_a_page_that_ends_the_catalog_has_no_next_cursor(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    # Given exactly as many products as one page holds
    seed_catalog(inventory, 5)

    status, body = call(list_products, list_request(sample_event, limit="5"), lambda_context)

    # Then no cursor to an empty page is handed out
    assert status == 200
    assert len(body["items"]) == 5
    assert body["nextCursor"] is None


def test_an_empty_catalog_is_an_empty_page(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    status, body = call(list_products, list_request(sample_event), lambda_context)

    assert (status, body) == (200, {"items": [], "nextCursor": None})


def b64(text: str, padded: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if padded else encoded.rstrip("=")


GOOD_POSITION = '{"itemType":"PRODUCT","pk":"PRODUCT#SKU-002","sku":"SKU-002"}'


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "not base64 at all",
        "%%%",
        b64("not json"),
        b64("[]"),
        b64("null"),
        b64('{"pk":"RESERVATION#ORDER-1","itemType":"RESERVATION","sku":"SKU-002"}'),
        b64('{"itemType":"PRODUCT","pk":"PRODUCT#SKU-003","sku":"SKU-002"}'),  # pk tampered
        b64('{"itemType":"PRODUCT","pk":"PRODUCT#sku 2","sku":"sku 2"}'),  # not a SKU
        b64('{"itemType":"PRODUCT","pk":"PRODUCT#SKU-002","sku":"SKU-002","x":1}'),
        b64('{"itemType":"PRODUCT","pk":"PRODUCT#SKU-002"}'),
        b64('{"itemType":"PRODUCT","pk":"PRODUCT#SKU-002","sku":2}'),
        b64('{"itemType":"EVENT","pk":"EVENT#1","sku":"SKU-002"}'),
        b64(GOOD_POSITION, padded=True),  # another encoding than the one issued
        b64('{"pk":"PRODUCT#SKU-002","itemType":"PRODUCT","sku":"SKU-002"}'),  # key order
        b64(GOOD_POSITION)[:-3],  # truncated
        b64("\u00ff\u00fe"),  # not UTF-8 JSON
        "A" * 199,
    ],
)
def test_a_garbage_or_tampered_cursor_is_400(
    cursor: str,
    list_products: Any,
    sample_event: Any,
    lambda_context: Any,
    inventory: InventoryState,
) -> None:
    seed_catalog(inventory, 5)

    status, body = call(list_products, list_request(sample_event, cursor=cursor), lambda_context)

    assert status == 400, body
    assert body["code"] == "INVALID_CURSOR"
    assert body["message"]


def test_the_issued_cursor_is_the_base64url_of_the_last_evaluated_key(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    seed_catalog(inventory, 5)

    _, body = call(list_products, list_request(sample_event, limit="3"), lambda_context)

    assert body["nextCursor"] == b64(GOOD_POSITION)
    _, rest = call(
        list_products, list_request(sample_event, cursor=b64(GOOD_POSITION)), lambda_context
    )
    assert [item["sku"] for item in rest["items"]] == ["SKU-003", "SKU-004"]


@pytest.mark.parametrize("cursor", ["", "A" * 201])
def test_an_empty_or_oversized_cursor_is_400(
    cursor: str, list_products: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    status, body = call(list_products, list_request(sample_event, cursor=cursor), lambda_context)

    assert status == 400, body
    assert body["code"] == "VALIDATION_ERROR"
    assert "cursor" in body["message"]


def test_the_sample_event_lists_the_first_two_products(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    seed_catalog(inventory, 3)

    status, body = call(list_products, sample_event("list_products"), lambda_context)

    assert status == 200
    assert [item["sku"] for item in body["items"]] == ["SKU-000", "SKU-001"]
    assert body["nextCursor"]
