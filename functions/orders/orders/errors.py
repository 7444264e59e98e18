"""The orders service's typed errors (HTTP mapping: shop_shared.http; saga: the class name)."""

from __future__ import annotations

from typing import ClassVar

from shop_shared.errors import Conflict, DomainError, NotFound, TooManyRequests, TransientError


class OrderNotFound(NotFound):
    """No such order, or not the caller's: both answer the same, so ids cannot be probed."""


class OrderNotPending(Conflict):
    """The order has already reached another outcome; the requested transition is not allowed."""

    code: ClassVar[str] = "ORDER_NOT_PENDING"


class OrderNotCancellable(Conflict):
    """Only a CONFIRMED order can be cancelled: it is still PENDING, already REJECTED, CANCELLED
    or being cancelled, or NEEDS_ATTENTION."""

    code: ClassVar[str] = "ORDER_NOT_CANCELLABLE"


class OrderNotCancelling(Conflict):
    """MarkOrderCancelled for an order whose cancellation was never requested."""

    code: ClassVar[str] = "ORDER_NOT_CANCELLING"


class ConcurrentModification(TransientError):
    """Lost the optimistic-concurrency race on the order's next version too many times."""

    code: ClassVar[str] = "CONCURRENT_MODIFICATION"


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was first used with a different request body (IETF draft: 422)."""

    code: ClassVar[str] = "IDEMPOTENCY_KEY_REUSED"
    http_status: ClassVar[int] = 422


class IdempotencyKeyInUse(Conflict):
    """A request with this Idempotency-Key is still being processed."""

    code: ClassVar[str] = "IDEMPOTENCY_KEY_IN_USE"


class TooManyOrders(TooManyRequests):
    """The customer placed as many orders as the limit allows in this window; Retry-After says
    when the next window opens."""

    code: ClassVar[str] = "TOO_MANY_ORDERS"


class VersionTaken(Exception):
    """Repository signal: another writer appended this version first (re-read and decide again)."""

    def __init__(self, order_id: str, version: int) -> None:
        super().__init__(f"version {version} of order {order_id} already exists")
        self.order_id = order_id
        self.version = version


class CorruptOrderHistory(Exception):
    """The stored events do not form a valid order history: a bug, never a caller's mistake."""
