"""Small in-memory stand-ins for the payments service's dependencies (unit tests only)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from payments.errors import (
    PaymentDeclined,
    PaymentProviderUnavailable,
    PaymentRecordConflict,
    PaymentTokenUnreadable,
)
from payments.models import (
    ChargeRequest,
    PaymentRecord,
    ProviderCharge,
    ProviderRefund,
    RefundRequest,
)
from payments.provider import PaymentProvider
from payments.repository import PaymentRepository
from shop_shared.events import DomainEvent

if TYPE_CHECKING:
    from datetime import datetime


class InMemoryPayments(PaymentRepository):
    """Records by order id plus the events written with them, with the repository's conditions."""

    def __init__(self) -> None:
        self.records: dict[str, PaymentRecord] = {}
        self.events: list[DomainEvent[Any]] = []
        self.attempts: set[str] = set()

    def get(self, order_id: str) -> PaymentRecord | None:
        return self.records.get(order_id)

    def mark_charge_attempt(self, order_id: str, at: datetime) -> None:
        self.attempts.add(order_id)

    def charge_attempted(self, order_id: str) -> bool:
        return order_id in self.attempts

    def record_charge(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        if record.orderId in self.records:
            raise PaymentRecordConflict(record.orderId)
        self.records[record.orderId] = record
        self.events.append(event)

    def record_refund(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        current = self.records.get(record.orderId)
        if current is None or current.status != "CHARGED":
            raise PaymentRecordConflict(record.orderId)
        self.records[record.orderId] = record
        self.events.append(event)

    def detail_types(self) -> list[str]:
        return [event.detail_type for event in self.events]


class FakeProvider(PaymentProvider):
    """Answers by token like the simulator; remembers each call and its idempotency key, and
    each charge by its key (a retry gets the first charge back, as from the real provider)."""

    def __init__(self) -> None:
        self.charge_calls: list[tuple[ChargeRequest, str]] = []
        self.refund_calls: list[tuple[RefundRequest, str]] = []
        self.lookups: list[str] = []
        self.charged: dict[str, ProviderCharge] = {}  # idempotency key -> charge
        self.down = False
        self.lose_charge_answers = False  # charge, then fail as a lost answer would

    def charge(
        self,
        request: ChargeRequest,
        *,
        idempotency_key: str,
        before_send: Callable[[], None] | None = None,
    ) -> ProviderCharge:
        if before_send is not None:
            before_send()
        self.charge_calls.append((request, idempotency_key))
        if self.down or request.token == "tok_unavailable":
            raise PaymentProviderUnavailable("The payment provider is unavailable")
        if request.token == "tok_declined":
            raise PaymentDeclined("Your card was declined")
        charge = self.charged.setdefault(
            idempotency_key,
            ProviderCharge(
                chargeId=f"ch_{len(self.charge_calls)}",
                status="succeeded",
                amountCents=request.amountCents,
                currency=request.currency,
                reference=request.reference,
            ),
        )
        if self.lose_charge_answers:
            raise PaymentProviderUnavailable("The payment provider could not be reached")
        return charge

    def find_charges(self, reference: str) -> list[ProviderCharge]:
        self.lookups.append(reference)
        if self.down:
            raise PaymentProviderUnavailable("The payment provider is unavailable")
        return [c for c in self.charged.values() if c.reference == reference]

    def refund(self, request: RefundRequest, *, idempotency_key: str) -> ProviderRefund:
        self.refund_calls.append((request, idempotency_key))
        if self.down:
            raise PaymentProviderUnavailable("The payment provider is unavailable")
        return ProviderRefund(
            refundId=f"re_{len(self.refund_calls)}",
            chargeId=request.chargeId,
            status="succeeded",
            amountCents=request.amountCents,
        )


def fake_seal(token: str, order_id: str) -> str:
    """A stand-in for PlaceOrder's KMS sealing, opened only by fake_open for the same order."""
    return base64.b64encode(f"sealed:{order_id}:{token}".encode()).decode()


def fake_open(ciphertext: str, order_id: str) -> str:
    prefix = f"sealed:{order_id}:"
    plain = base64.b64decode(ciphertext).decode()
    if not plain.startswith(prefix):
        raise PaymentTokenUnreadable("The payment token was not sealed for this order")
    return plain.removeprefix(prefix)
