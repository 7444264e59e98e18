"""inventory: upsert two products, reserve an order's stock (twice: one reservation), release it
(twice: one release), through the real logic and DynamoDB repository, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from inventory.logic import release_stock, reserve_stock, upsert_product
from inventory.models import ReleaseStockInput, ReserveStockInput, UpsertProductRequest
from inventory.repository import DynamoDBInventoryRepository
from tests.contract.producers import outbox_items, template_table

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"


def run() -> list[dict[str, Any]]:
    with mock_aws():
        table = template_table("InventoryTable")
        repository = DynamoDBInventoryRepository(table.name)
        for sku, price in (("ESPRESSO-250G", 1290), ("MUG-CERAMIC", 900)):
            upsert_product(
                sku,
                UpsertProductRequest(name=sku.title(), priceCents=price, currency="EUR", stock=5),
                repository=repository,
                correlation_id="contract-inventory",
                now=NOW,
            )
        reserve = ReserveStockInput.model_validate(
            {
                "orderId": ORDER_ID,
                "items": [
                    {"sku": "ESPRESSO-250G", "quantity": 2},
                    {"sku": "MUG-CERAMIC", "quantity": 1},
                ],
                "correlationId": "contract-inventory",
            }
        )
        for _ in range(2):
            reserve_stock(reserve, repository=repository, now=NOW + timedelta(minutes=1))
        release = ReleaseStockInput(orderId=ORDER_ID, correlationId="contract-inventory")
        for _ in range(2):
            release_stock(release, repository=repository, now=NOW + timedelta(minutes=2))
        return outbox_items(table)
