"""The payments service's models: saga payloads, the stored record, events, provider messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints

from shop_shared.models import ShopModel

PAYMENTS_SOURCE = "shop.payments"
PRODUCER = "payments"

PaymentStatus = Literal["CHARGED", "REFUNDED"]
CHARGE_ATTEMPT_DAYS = 30  # how long the note that a charge was sent is kept (TTL)

OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")]
PaymentToken = Annotated[str, StringConstraints(pattern=r"^tok_[A-Za-z0-9_]{1,64}$")]
# The card token as the saga carries it: sealed by PlaceOrder for the order (payment_token).
SealedPaymentToken = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9+/]+={0,2}$", min_length=16, max_length=8192)
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
PositiveCents = Annotated[int, Field(gt=0)]
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


# ---------------------------------------------------------------- saga payloads


class SagaTask(ShopModel):
    """What every payments task reads from the saga's state (the rest is ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    orderId: OrderId
    correlationId: str | None = Field(default=None, min_length=1)

    @property
    def correlation_id(self) -> str:
        return self.correlationId or self.orderId


class ReservationTotal(ShopModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    totalCents: PositiveCents
    currency: Currency


class ChargePaymentInput(SagaTask):
    paymentTokenCiphertext: SealedPaymentToken  # opened only by ChargePayment, for one call
    reservation: ReservationTotal


class RefundPaymentInput(SagaTask):
    pass


class PaymentResult(ShopModel):
    """`$.payment`: what ChargePayment returns into the saga's state."""

    paymentId: ProviderId
    amountCents: PositiveCents
    currency: Currency
    status: PaymentStatus

    @classmethod
    def of(cls, record: PaymentRecord) -> PaymentResult:
        return cls(
            paymentId=record.paymentId,
            amountCents=record.amountCents,
            currency=record.currency,
            status=record.status,
        )


class GetPaymentInput(ShopModel):
    """What GetPaymentFunction (internal query, not on the API) is invoked with: orders' GET
    /orders/{id}/details."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    orderId: OrderId
    correlationId: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class PaymentAnswer(ShopModel):
    """GetPaymentFunction's answer: the order's payment, or `found: false` (never an error)
    when the order has none."""

    orderId: OrderId
    found: bool
    payment: PaymentResult | None

    @classmethod
    def of(cls, order_id: str, record: PaymentRecord | None) -> PaymentAnswer:
        payment = PaymentResult.of(record) if record else None
        return cls(orderId=order_id, found=payment is not None, payment=payment)


class RefundResult(ShopModel):
    """`$.refund`: NOT_CHARGED when the order has no payment (nothing to give back)."""

    orderId: OrderId
    status: Literal["REFUNDED", "NOT_CHARGED"]


# ---------------------------------------------------------------- stored record


def payment_key(order_id: str) -> dict[str, str]:
    return {"pk": f"PAYMENT#{order_id}"}


class PaymentRecord(ShopModel):
    """`PAYMENT#<orderId>` in PaymentsTable. paymentId is the provider's charge id."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, StringConstraints(pattern=r"^PAYMENT#")]
    itemType: Literal["PAYMENT"] = "PAYMENT"
    orderId: OrderId
    paymentId: ProviderId
    amountCents: PositiveCents
    currency: Currency
    status: PaymentStatus
    chargedAt: datetime
    refundId: ProviderId | None = None
    refundedAt: datetime | None = None

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def charge_attempt_key(order_id: str) -> dict[str, str]:
    return {"pk": f"CHARGE_ATTEMPT#{order_id}"}


class ChargeAttempt(ShopModel):
    """`CHARGE_ATTEMPT#<orderId>`: a charge request for the order was sent to the provider (it
    may have charged, whatever the step saw). Written before the request leaves; without it,
    RefundPayment knows nothing was ever charged and need not ask the provider."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, StringConstraints(pattern=r"^CHARGE_ATTEMPT#")]
    itemType: Literal["CHARGE_ATTEMPT"] = "CHARGE_ATTEMPT"
    orderId: OrderId
    attemptedAt: datetime
    expiresAt: int  # epoch seconds: PaymentsTable's TTL attribute

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- events (data of the detail)


class PaymentEventData(ShopModel):
    model_config = ConfigDict(frozen=True)

    detail_type: ClassVar[str]

    orderId: OrderId
    paymentId: ProviderId
    amountCents: PositiveCents
    currency: Currency

    @classmethod
    def of(cls, record: PaymentRecord) -> PaymentEventData:
        return cls(
            orderId=record.orderId,
            paymentId=record.paymentId,
            amountCents=record.amountCents,
            currency=record.currency,
        )


class PaymentChargedData(PaymentEventData):
    detail_type: ClassVar[str] = "PaymentCharged"


class PaymentRefundedData(PaymentEventData):
    detail_type: ClassVar[str] = "PaymentRefunded"


# ---------------------------------------------------------------- payment provider API


class ChargeRequest(ShopModel):
    amountCents: PositiveCents
    currency: Currency
    token: PaymentToken
    reference: OrderId


class ProviderCharge(ShopModel):
    model_config = ConfigDict(extra="ignore")

    chargeId: ProviderId
    status: Literal["succeeded"]
    amountCents: PositiveCents
    currency: Currency
    reference: str


class ChargeList(ShopModel):
    """GET /v1/charges?reference=: the provider's charges with that reference."""

    model_config = ConfigDict(extra="ignore")

    items: list[ProviderCharge]


class RefundRequest(ShopModel):
    chargeId: ProviderId
    amountCents: PositiveCents


class ProviderRefund(ShopModel):
    model_config = ConfigDict(extra="ignore")

    refundId: ProviderId
    chargeId: ProviderId
    status: Literal["succeeded"]
    amountCents: PositiveCents
