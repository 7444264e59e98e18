"""Inventory handlers called in-process on moto, with the table template.yaml declares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.service_harness import empty_table, handlers_on_moto

TABLE_NAME = "InventoryTable"
HANDLERS = ("upsert_product", "get_product", "list_products", "reserve_stock", "release_stock")


class InventoryState:
    """What the inventory table holds, read back for the Then of each test."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def items(self) -> dict[str, dict[str, Any]]:
        """Every item, by pk."""
        return {item["pk"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}

    def stock(self) -> dict[str, int]:
        """On-hand stock per SKU."""
        return {
            item["sku"]: int(item["stock"])
            for pk, item in self.items().items()
            if pk.startswith("PRODUCT#")
        }

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """The events written to the outbox as (detail-type, data), sorted by detail-type."""
        events = []
        for pk, item in self.items().items():
            if not pk.startswith("EVENT#"):
                continue
            detail = json.loads(item["detail"])
            assert item["itemType"] == "EVENT"
            assert item["source"] == "shop.inventory"
            assert item["eventId"] == detail["metadata"]["eventId"] == pk.removeprefix("EVENT#")
            assert detail["metadata"]["producer"] == "inventory"
            assert item["expiresAt"] > 0
            events.append((item["detailType"], detail["data"]))
        return sorted(events, key=lambda event: event[0])

    def seed_product(
        self, sku: str, *, stock: int, price_cents: int = 1000, currency: str = "EUR"
    ) -> None:
        """Put a product straight into the table, as a previous upsert left it."""
        self.table.put_item(
            Item={
                "pk": f"PRODUCT#{sku}",
                "itemType": "PRODUCT",
                "sku": sku,
                "name": f"Product {sku}",
                "priceCents": price_cents,
                "currency": currency,
                "stock": stock,
                "createdAt": "2026-11-01T09:00:00Z",
                "updatedAt": "2026-11-01T09:00:00Z",
            }
        )


@pytest.fixture(scope="module")
def _inventory_cloud() -> Iterator[tuple[Any, dict[str, ModuleType]]]:
    """One moto, one InventoryTable (as template.yaml declares it) and the handler modules per
    test module; per test, creating clients and a table costs ~0.5 s. Settings and clients are
    read when a handler module is imported, so the environment is set first."""
    environment = {
        "INVENTORY_TABLE_NAME": TABLE_NAME,
        "POWERTOOLS_SERVICE_NAME": "inventory",
        "CATALOG_MAX_AGE_SECONDS": "60",
    }
    with handlers_on_moto(TABLE_NAME, environment, HANDLERS) as cloud:
        yield cloud


@pytest.fixture
def inventory(_inventory_cloud: tuple[Any, dict[str, ModuleType]]) -> InventoryState:
    """The inventory table, empty at the start of each test."""
    table, _ = _inventory_cloud
    empty_table(table)
    return InventoryState(table)


@pytest.fixture
def upsert_product(_inventory_cloud: Any, inventory: InventoryState) -> ModuleType:
    return _inventory_cloud[1]["upsert_product"]


@pytest.fixture
def get_product(_inventory_cloud: Any, inventory: InventoryState) -> ModuleType:
    return _inventory_cloud[1]["get_product"]


@pytest.fixture
def list_products(_inventory_cloud: Any, inventory: InventoryState) -> ModuleType:
    return _inventory_cloud[1]["list_products"]


@pytest.fixture
def reserve_stock(_inventory_cloud: Any, inventory: InventoryState) -> ModuleType:
    return _inventory_cloud[1]["reserve_stock"]


@pytest.fixture
def release_stock(_inventory_cloud: Any, inventory: InventoryState) -> ModuleType:
    return _inventory_cloud[1]["release_stock"]
