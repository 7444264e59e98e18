"""The event envelope of DESIGN section 5, and how an event is stored for the outbox relay.

An event is written in the same DynamoDB transaction as the state change it describes, as an
item with `itemType = "EVENT"`; the table's stream carries it to `outbox_relay`, which puts it
on the bus. Nothing is published directly, so a crash between "saved" and "published" loses
nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shop_shared.models import ShopModel

EVENT_ITEM_TYPE = "EVENT"
OUTBOX_RETENTION = timedelta(days=7)

DataT = TypeVar("DataT", bound=BaseModel)


class EventMetadata(ShopModel):
    model_config = ConfigDict(frozen=True)

    eventId: str = Field(min_length=1)
    schemaVersion: str = "1"
    occurredAt: datetime
    correlationId: str = Field(min_length=1)
    producer: str = Field(min_length=1)
    # Event-sourced producers (orders) say where the event sits in its aggregate's history
    # (1, 2, ...), so a consumer can drop a duplicate or an older event than the state it holds.
    # Optional and left out of the JSON when absent: other producers' events are unchanged.
    aggregateVersion: int | None = Field(
        default=None, ge=1, exclude_if=lambda version: version is None
    )


class EventDetail(BaseModel, Generic[DataT]):
    """`detail` of every event on the bus: metadata plus the event's own data."""

    metadata: EventMetadata
    data: DataT


class DomainEvent(BaseModel, Generic[DataT]):
    """An event ready to be stored in the outbox: EventBridge's source, detail-type and detail."""

    source: str
    detail_type: str
    detail: EventDetail[DataT]

    @property
    def event_id(self) -> str:
        return self.detail.metadata.eventId

    def detail_json(self) -> str:
        return self.detail.model_dump_json()


def new_event(
    *,
    source: str,
    detail_type: str,
    data: DataT,
    correlation_id: str,
    producer: str,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> DomainEvent[DataT]:
    metadata = EventMetadata(
        eventId=event_id or str(uuid.uuid4()),
        occurredAt=occurred_at or datetime.now(UTC),
        correlationId=correlation_id,
        producer=producer,
    )
    return DomainEvent(
        source=source, detail_type=detail_type, detail=EventDetail(metadata=metadata, data=data)
    )


def event_item(
    event: DomainEvent[Any], *, key: dict[str, Any], expires: bool = True
) -> dict[str, Any]:
    """The DynamoDB item (resource-level types) that stores `event` for the relay.

    `key` is the table's key for the item; outbox items in a state table expire after a week,
    event-store items (`expires=False`) are kept forever.
    """
    occurred = event.detail.metadata.occurredAt
    item: dict[str, Any] = {
        **key,
        "itemType": EVENT_ITEM_TYPE,
        "eventId": event.event_id,
        "source": event.source,
        "detailType": event.detail_type,
        "detail": event.detail_json(),
        "occurredAt": occurred.isoformat(),
    }
    if expires:
        item["expiresAt"] = int((occurred + OUTBOX_RETENTION).timestamp())
    return item


def outbox_key(event: DomainEvent[Any]) -> dict[str, str]:
    """Key of an outbox item in a table whose only key is `pk`."""
    return {"pk": f"EVENT#{event.event_id}"}


def parse_detail(detail: str | dict[str, Any], data_model: type[DataT]) -> EventDetail[DataT]:
    """Parse an event's detail (as JSON text or dict) into the consumer's model of it."""
    raw = json.loads(detail) if isinstance(detail, str) else detail
    return EventDetail[data_model].model_validate(raw)  # type: ignore[valid-type]
