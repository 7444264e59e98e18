"""In-memory stand-ins for the read model's store, and bus events as the relay publishes them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from orders.models import Order, OrderEventItem
from orders.read_model.models import (
    HeldSummary,
    OrderSummary,
    OrderSummaryItem,
    SummaryPage,
)
from orders.read_model.repository import OrderSummaryStore
from shop_shared.bus import BusEvent
from tests.unit.orders.orders_fakes import InMemoryOrderEventStore


class CountingOrderEventStore(InMemoryOrderEventStore):
    """The in-memory event store, counting how often a history is read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def history(self, order_id: str) -> list[OrderEventItem]:
        self.reads += 1
        return super().history(order_id)


class InMemoryOrderSummaryStore(OrderSummaryStore):
    """Items keyed by pk exactly as DynamoDB would hold them; writes are conditional on the
    stored version like DynamoDBOrderSummaryStore's."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.held_reads = 0
        self.lose_next_race_to: Order | None = None  # a concurrent delivery writes this first

    def held(self, order_id: str) -> HeldSummary | None:
        self.held_reads += 1
        item = self.items.get(f"ORDER#{order_id}")
        return OrderSummaryItem.model_validate(item).held() if item else None

    def save(self, order: Order, *, replace_same_version: bool = False) -> bool:
        if self.lose_next_race_to is not None:
            winner, self.lose_next_race_to = self.lose_next_race_to, None
            self.save(winner)
        item = OrderSummaryItem.of(order).to_item()
        stored = self.items.get(item["pk"])
        if stored is not None and (
            stored["version"] > order.version
            or (stored["version"] == order.version and not replace_same_version)
        ):
            return False
        self.items[item["pk"]] = item
        self.writes += 1
        return True

    def page(self, customer_id: str, *, limit: int, after: str | None) -> SummaryPage:
        rows = sorted(
            (
                item
                for item in self.items.values()
                if item["customerId"] == customer_id
                and (after is None or item["createdKey"] < after)
            ),
            key=lambda item: item["createdKey"],
            reverse=True,
        )
        shown = [OrderSummary.model_validate(row) for row in rows[:limit]]
        more = len(rows) > limit
        return SummaryPage(
            summaries=shown, next_after=rows[limit - 1]["createdKey"] if more else None
        )


def bus_event(item: OrderEventItem, **detail_changes: Any) -> BusEvent:
    """The event the relay puts on the bus for a stored event item, as a rule delivers it."""
    detail = json.loads(item.detail)
    detail.update(detail_changes)
    return BusEvent.model_validate(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": item.detailType,
            "source": item.source,
            "account": "123456789012",
            "time": item.occurredAt,
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )
