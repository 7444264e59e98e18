"""Why a part of an order's details is unavailable. None of these reaches the caller as an
error: the part is answered `{"status": "unavailable"}` and the rest of the answer stands."""

from __future__ import annotations

from typing import ClassVar

from shop_shared.circuit_breaker import CircuitOpen
from shop_shared.errors import TransientError


class OwningServiceFailed(TransientError):
    """The owning service's query function failed (an unhandled error, a timeout inside it) or
    answered something orders can't read. Transient: it counts towards that service's breaker."""

    code: ClassVar[str] = "OWNING_SERVICE_FAILED"


class CustomersCircuitOpen(CircuitOpen):
    """The `customers` breaker is open: GetCustomerProfile was not called."""

    code: ClassVar[str] = "CUSTOMERS_CIRCUIT_OPEN"


class PaymentsCircuitOpen(CircuitOpen):
    """The `payments` breaker is open: GetPayment was not called."""

    code: ClassVar[str] = "PAYMENTS_CIRCUIT_OPEN"


class ShippingCircuitOpen(CircuitOpen):
    """The `shipping` breaker is open: GetShipment was not called."""

    code: ClassVar[str] = "SHIPPING_CIRCUIT_OPEN"
