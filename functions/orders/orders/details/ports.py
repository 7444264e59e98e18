"""What composing an order's details depends on, below both the composition (logic) and the
Lambda clients that implement it: the owning services' queries and one breaker per service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.details.models import (
        CustomerProfileAnswer,
        CustomerProfileQuery,
        PaymentAnswer,
        PaymentQuery,
        ShipmentAnswer,
        ShipmentQuery,
    )
    from shop_shared.circuit_breaker import CircuitBreaker


class OwningServices(ABC):
    """What orders may ask the services that own the other parts of an order."""

    @abstractmethod
    def customer_profile(self, query: CustomerProfileQuery) -> CustomerProfileAnswer:
        """The customers service's answer (GetCustomerProfile)."""

    @abstractmethod
    def payment(self, query: PaymentQuery) -> PaymentAnswer:
        """The payments service's answer (GetPayment)."""

    @abstractmethod
    def shipment(self, query: ShipmentQuery) -> ShipmentAnswer:
        """The shipping service's answer (GetShipment)."""


@dataclass(frozen=True)
class PartBreakers:
    """One circuit breaker per owning service."""

    customers: CircuitBreaker
    payments: CircuitBreaker
    shipping: CircuitBreaker
