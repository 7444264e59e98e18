"""inventory.logic.list_products and its cursor, on a small in-memory catalog."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from inventory import logic
from inventory.errors import InvalidCursor
from inventory.models import CatalogPosition, Product, ProductListResponse, ProductPage
from inventory.repository import CatalogReader

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def product(sku: str, stock: int = 3) -> Product:
    return Product(
        sku=sku,
        name=f"Product {sku}",
        price_cents=990,
        currency="EUR",
        stock=stock,
        created_at=NOW,
        updated_at=NOW,
    )


class SortedCatalog(CatalogReader):
    """Products in SKU order, paged like the index: after a position, `limit` at a time."""

    def __init__(self, *skus: str) -> None:
        self.products = [product(sku) for sku in sorted(skus)]
        self.asked: list[tuple[int, CatalogPosition | None]] = []

    def list_products(self, *, limit: int, after: CatalogPosition | None) -> ProductPage:
        self.asked.append((limit, after))
        rest = [p for p in self.products if after is None or p.sku > after.sku]
        page = rest[:limit]
        more = len(rest) > limit
        return ProductPage(
            products=tuple(page), next=CatalogPosition.after(page[-1].sku) if more else None
        )


def test_a_cursor_round_trips_to_the_same_position() -> None:
    position = CatalogPosition.after("KB-001")

    cursor = position.to_cursor()

    assert CatalogPosition.from_cursor(cursor) == position
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert decoded == {"pk": "PRODUCT#KB-001", "itemType": "PRODUCT", "sku": "KB-001"}
    assert "=" not in cursor


def test_pages_follow_each_other_through_the_cursor() -> None:
    catalog = SortedCatalog("C-3", "A-1", "B-2", "D-4", "E-5")

    first = ProductListResponse.from_page(logic.list_products(2, None, catalog=catalog))
    second = ProductListResponse.from_page(
        logic.list_products(2, first.nextCursor, catalog=catalog)
    )
    third = ProductListResponse.from_page(
        logic.list_products(2, second.nextCursor, catalog=catalog)
    )

    assert [[i.sku for i in page.items] for page in (first, second, third)] == [
        ["A-1", "B-2"],
        ["C-3", "D-4"],
        ["E-5"],
    ]
    assert third.nextCursor is None
    assert catalog.asked == [
        (2, None),
        (2, CatalogPosition.after("B-2")),
        (2, CatalogPosition.after("D-4")),
    ]
    assert first.items[0].model_dump() == {
        "sku": "A-1",
        "name": "Product A-1",
        "priceCents": 990,
        "currency": "EUR",
        "available": 3,
    }


@pytest.mark.parametrize(
    "cursor",
    [
        "***",
        base64.urlsafe_b64encode(b'{"pk":"PRODUCT#A-1","itemType":"PRODUCT"}').decode(),
        base64.urlsafe_b64encode(b'{"itemType":"PRODUCT","pk":"PRODUCT#B-2","sku":"A-1"}')
        .decode()
        .rstrip("="),
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
        "eyJ",
    ],
)
def test_a_cursor_we_did_not_issue_is_invalid_and_the_catalog_is_not_read(cursor: str) -> None:
    catalog = SortedCatalog("A-1", "B-2")

    with pytest.raises(InvalidCursor) as raised:
        logic.list_products(2, cursor, catalog=catalog)

    assert (raised.value.http_status, raised.value.code) == (400, "INVALID_CURSOR")
    assert catalog.asked == []
