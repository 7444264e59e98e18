"""The read model's typed errors (HTTP mapping: shop_shared.http)."""

from __future__ import annotations

from typing import ClassVar

from shop_shared.errors import TransientError, ValidationFailed


class InvalidCursor(ValidationFailed):
    """`?cursor=` is not one this API handed to this caller (edited, truncated, someone else's)."""

    code: ClassVar[str] = "INVALID_CURSOR"


class OrderHistoryUnavailable(TransientError):
    """An event names an order the event store does not hold: the record fails and is retried
    (then lands in the DLQ), since the bus only carries events the store has written."""

    code: ClassVar[str] = "ORDER_HISTORY_UNAVAILABLE"
