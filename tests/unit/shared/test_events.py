"""The event envelope and its outbox item."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel

from shop_shared.events import EVENT_ITEM_TYPE, event_item, new_event, outbox_key, parse_detail


class Thing(BaseModel):
    thingId: str
    count: int


def test_event_item_holds_what_the_relay_publishes() -> None:
    occurred = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = new_event(
        source="shop.things",
        detail_type="ThingCounted",
        data=Thing(thingId="t1", count=2),
        correlation_id="corr-1",
        producer="things",
        occurred_at=occurred,
    )

    item = event_item(event, key=outbox_key(event))

    assert item["pk"] == f"EVENT#{event.event_id}"
    assert item["itemType"] == EVENT_ITEM_TYPE
    assert (item["source"], item["detailType"]) == ("shop.things", "ThingCounted")
    detail = json.loads(item["detail"])
    assert detail["metadata"] == {
        "eventId": event.event_id,
        "schemaVersion": "1",
        "occurredAt": "2026-01-02T03:04:05Z",
        "correlationId": "corr-1",
        "producer": "things",
    }
    assert detail["data"] == {"thingId": "t1", "count": 2}
    assert item["expiresAt"] == int(occurred.timestamp()) + 7 * 24 * 3600


def test_event_store_items_do_not_expire() -> None:
    event = new_event(
        source="s",
        detail_type="D",
        data=Thing(thingId="t", count=1),
        correlation_id="c",
        producer="p",
    )

    assert "expiresAt" not in event_item(event, key={"pk": "X", "sk": "Y"}, expires=False)


def test_consumer_parses_what_the_producer_wrote() -> None:
    event = new_event(
        source="s",
        detail_type="D",
        data=Thing(thingId="t", count=3),
        correlation_id="c",
        producer="p",
    )

    parsed = parse_detail(event_item(event, key=outbox_key(event))["detail"], Thing)

    assert parsed.data == Thing(thingId="t", count=3)
    assert parsed.metadata.eventId == event.event_id
