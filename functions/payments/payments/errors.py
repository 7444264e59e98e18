"""The payments service's typed errors.

The class name is the errorType Lambda reports, which the saga matches: `PaymentDeclined` is a
business outcome (not retried); `PaymentProviderUnavailable` is transient (retried with backoff);
`PaymentProviderCircuitOpen` means the provider was not even called, because its circuit breaker
is open (the saga does not retry it: the order is rejected with PAYMENT_PROVIDER_UNAVAILABLE).
"""

from __future__ import annotations

from typing import ClassVar

from shop_shared.circuit_breaker import CircuitOpen
from shop_shared.errors import Conflict, DomainError, TransientError


class PaymentDeclined(DomainError):
    """The provider declined the card: the customer's business, not worth retrying."""

    code: ClassVar[str] = "PAYMENT_DECLINED"
    http_status: ClassVar[int] = 402


class PaymentProviderUnavailable(TransientError):
    """The provider answered 5xx/429, timed out or could not be reached."""

    code: ClassVar[str] = "PAYMENT_PROVIDER_UNAVAILABLE"


class PaymentProviderCircuitOpen(CircuitOpen):
    """The `payment-provider` breaker is open: failing fast, the provider was not called."""

    code: ClassVar[str] = "PAYMENT_PROVIDER_CIRCUIT_OPEN"


class PaymentProviderError(DomainError):
    """The provider refused the request itself (401, 400, 404): a configuration or a bug."""

    code: ClassVar[str] = "PAYMENT_PROVIDER_ERROR"
    http_status: ClassVar[int] = 502


class PaymentTokenUnreadable(DomainError):
    """The sealed card token does not open for this order with the payment-token key (not
    sealed by PlaceOrder, or for another order): nothing was charged, nothing will be."""

    code: ClassVar[str] = "PAYMENT_TOKEN_UNREADABLE"
    http_status: ClassVar[int] = 422


class PaymentAlreadyRefunded(Conflict):
    """The order's payment was refunded; it is not charged again under the same order."""

    code: ClassVar[str] = "PAYMENT_ALREADY_REFUNDED"


class PaymentRecordConflict(Exception):
    """Repository signal: the record was written or changed concurrently (re-read it)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"the payment record of order {order_id} changed concurrently")
        self.order_id = order_id
