"""What the bus carried and when SES sent each email, kept for the orders' stories.

EventBridge keeps no record of the events it routed (an archive would, on AWS), and moto's SES
keeps its sent messages without a time; `install` wraps moto's PutEvents and SendEmail so that
each entry is also written here, with the time it arrived (moto's files are unchanged).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_EVENTS = 50_000
_lock = threading.Lock()


@dataclass(frozen=True)
class BusEvent:
    epoch: float
    bus: str
    source: str
    detail_type: str
    detail: Any  # the parsed Detail

    def mentions(self, order_id: str, correlation_ids: set[str]) -> bool:
        detail: dict[str, Any] = self.detail if isinstance(self.detail, dict) else {}
        data = detail.get("data")
        metadata = detail.get("metadata")
        if isinstance(data, dict) and data.get("orderId") == order_id:
            return True
        if isinstance(metadata, dict) and metadata.get("correlationId") in correlation_ids:
            return True
        return order_id in json.dumps(self.detail)


class Journal:
    events: deque[BusEvent] = deque(maxlen=MAX_EVENTS)
    email_times: dict[str, float] = {}
    listeners: list[Callable[[BusEvent], None]] = []  # e.g. the terminal feed


def install() -> None:
    """Wrap moto's EventBridge PutEvents and SES SendEmail (once per process)."""
    from moto.events.models import EventsBackend
    from moto.ses.models import SESBackend

    with _lock:
        if getattr(EventsBackend.put_events, "localcloud_journal", False):
            return
        moto_put_events = EventsBackend.put_events
        moto_send_email = SESBackend.send_email

        def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            answer = moto_put_events(self, events)
            now = time.time()
            for event, result in zip(events, answer, strict=False):
                if "EventId" not in result:
                    continue  # refused entries are not delivered
                try:
                    detail = json.loads(event.get("Detail") or "{}")
                except ValueError:
                    detail = event.get("Detail")
                entry = BusEvent(
                    epoch=now,
                    bus=str(event.get("EventBusName") or "default").rsplit("/", 1)[-1],
                    source=str(event.get("Source", "")),
                    detail_type=str(event.get("DetailType", "")),
                    detail=detail,
                )
                Journal.events.append(entry)
                for listener in list(Journal.listeners):
                    listener(entry)
            return answer

        def send_email(self: SESBackend, *args: Any, **kwargs: Any) -> Any:
            message = moto_send_email(self, *args, **kwargs)
            Journal.email_times[str(message.id)] = time.time()
            return message

        put_events.localcloud_journal = True  # type: ignore[attr-defined]
        EventsBackend.put_events = put_events  # type: ignore[method-assign]
        SESBackend.send_email = send_email  # type: ignore[method-assign]


def bus_events(order_id: str, correlation_ids: set[str]) -> list[BusEvent]:
    return [event for event in list(Journal.events) if event.mentions(order_id, correlation_ids)]
