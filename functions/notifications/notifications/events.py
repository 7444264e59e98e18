"""The events the notifications service consumes (docs/contracts.md, "The event catalog").

`CONSUMED_EVENTS` maps each detail-type that NotificationsRule routes to NotificationsQueue to
this service's own model of the event's `data`, the one `logic` parses it with
(`shop_shared.events.parse_detail`). The contract tests feed it what the producers emit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.models import CustomerRegistered, OrderConfirmed, OrderRejected

if TYPE_CHECKING:
    from pydantic import BaseModel

CONSUMED_EVENTS: dict[str, type[BaseModel]] = {
    "CustomerRegistered": CustomerRegistered,
    "OrderConfirmed": OrderConfirmed,
    "OrderRejected": OrderRejected,
}
