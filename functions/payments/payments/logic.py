"""Charge and refund an order's payment: idempotent on the order id, at most once at the provider.

Pure functions on models; the repository, the provider and the clock are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from payments.errors import PaymentAlreadyRefunded, PaymentDeclined, PaymentRecordConflict
from payments.models import (
    PAYMENTS_SOURCE,
    PRODUCER,
    ChargePaymentInput,
    ChargeRequest,
    GetPaymentInput,
    PaymentAnswer,
    PaymentChargedData,
    PaymentEventData,
    PaymentRecord,
    PaymentRefundedData,
    PaymentResult,
    ProviderCharge,
    RefundPaymentInput,
    RefundRequest,
    RefundResult,
    payment_key,
)
from shop_shared.events import DomainEvent, new_event
from shop_shared.observability import logger, metrics

if TYPE_CHECKING:
    from payments.payment_token import TokenOpener
    from payments.provider import PaymentProvider
    from payments.repository import PaymentRepository

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def charge_payment(
    task: ChargePaymentInput,
    *,
    payments: PaymentRepository,
    provider: PaymentProvider,
    clock: Clock,
    open_token: TokenOpener,
) -> PaymentResult:
    """Charge the reserved total once: an existing charge is returned as it is. The sealed
    card token is opened (for this order only) right before the provider is called."""
    existing = payments.get(task.orderId)
    if existing is not None:
        return _already_charged(existing)
    try:
        charge = provider.charge(
            ChargeRequest(
                amountCents=task.reservation.totalCents,
                currency=task.reservation.currency,
                token=open_token(task.paymentTokenCiphertext, task.orderId),
                reference=task.orderId,
            ),
            idempotency_key=f"charge-{task.orderId}",
            # From here on the card may be charged, whatever this step ends with
            before_send=lambda: payments.mark_charge_attempt(task.orderId, clock()),
        )
    except PaymentDeclined:
        metrics.add_metric(name="PaymentDeclined", unit=MetricUnit.Count, value=1)
        raise
    try:
        record = _record_charge(task, charge, payments=payments, clock=clock)
    except PaymentRecordConflict:  # a concurrent duplicate of this step recorded it first
        concurrent = payments.get(task.orderId)
        if concurrent is None:
            raise
        return _already_charged(concurrent)
    logger.info("payment charged", extra={"order_id": task.orderId, "payment_id": record.paymentId})
    metrics.add_metric(name="PaymentCharged", unit=MetricUnit.Count, value=1)
    return PaymentResult.of(record)


def refund_payment(
    task: RefundPaymentInput,
    *,
    payments: PaymentRepository,
    provider: PaymentProvider,
    clock: Clock,
) -> RefundResult:
    """Give a CHARGED payment back once; no payment or an earlier refund changes nothing.

    Without a payment record the charge may still have happened (its answer was lost, or the
    step died before recording it): if a charge request was ever sent, the provider is asked
    for charges with the order's reference, and one it holds is recorded, then refunded.
    """
    existing = payments.get(task.orderId) or _charge_at_provider(
        task, payments=payments, provider=provider, clock=clock
    )
    if existing is None:
        logger.info("nothing to refund", extra={"order_id": task.orderId})
        return RefundResult(orderId=task.orderId, status="NOT_CHARGED")
    if existing.status == "REFUNDED":
        return RefundResult(orderId=task.orderId, status="REFUNDED")
    refund = provider.refund(
        RefundRequest(chargeId=existing.paymentId, amountCents=existing.amountCents),
        idempotency_key=f"refund-{task.orderId}",
    )
    refunded_at = clock()
    record = existing.model_copy(
        update={"status": "REFUNDED", "refundId": refund.refundId, "refundedAt": refunded_at}
    )
    event = _event(PaymentRefundedData.of(record), task.correlation_id, refunded_at)
    try:
        payments.record_refund(record, event)
    except PaymentRecordConflict:  # refunded concurrently by a duplicate of this step
        concurrent = payments.get(task.orderId)
        if concurrent is None or concurrent.status != "REFUNDED":
            raise
    else:
        logger.info("payment refunded", extra={"order_id": task.orderId})
        metrics.add_metric(name="PaymentRefunded", unit=MetricUnit.Count, value=1)
    return RefundResult(orderId=task.orderId, status="REFUNDED")


def _charge_at_provider(
    task: RefundPaymentInput,
    *,
    payments: PaymentRepository,
    provider: PaymentProvider,
    clock: Clock,
) -> PaymentRecord | None:
    """The order's charge the provider holds but we never recorded, now recorded (with its
    PaymentCharged event); None when no charge was ever sent or the provider has none."""
    if not payments.charge_attempted(task.orderId):
        return None  # the provider was never asked: nothing can have been charged
    found = provider.find_charges(task.orderId)
    if not found:
        logger.info("the provider holds no charge of the order", extra={"order_id": task.orderId})
        return None
    if len(found) > 1:  # never with one Idempotency-Key per order; an operator must look
        logger.error(
            "several charges for one order", extra={"order_id": task.orderId, "n": len(found)}
        )
    charge = found[0]
    logger.warning(
        "charge found at the provider without a payment record",
        extra={"order_id": task.orderId, "payment_id": charge.chargeId},
    )
    try:
        record = _record_charge(task, charge, payments=payments, clock=clock)
    except PaymentRecordConflict:  # recorded meanwhile (the charge step, or a duplicate of this)
        return payments.get(task.orderId)
    metrics.add_metric(name="PaymentFoundByReference", unit=MetricUnit.Count, value=1)
    return record


def _record_charge(
    task: ChargePaymentInput | RefundPaymentInput,
    charge: ProviderCharge,
    *,
    payments: PaymentRepository,
    clock: Clock,
) -> PaymentRecord:
    """The provider's charge recorded as the order's CHARGED payment, with its PaymentCharged
    event; PaymentRecordConflict when the order has a payment record already."""
    record = PaymentRecord(
        **payment_key(task.orderId),
        orderId=task.orderId,
        paymentId=charge.chargeId,
        amountCents=charge.amountCents,
        currency=charge.currency,
        status="CHARGED",
        chargedAt=clock(),
    )
    payments.record_charge(
        record, _event(PaymentChargedData.of(record), task.correlation_id, record.chargedAt)
    )
    return record


def find_payment(query: GetPaymentInput, *, payments: PaymentRepository) -> PaymentAnswer:
    """Another service asks for an order's payment: it, or found=false (an answer, not an error:
    an order that was never charged has none). Reads only."""
    return PaymentAnswer.of(query.orderId, payments.get(query.orderId))


def _already_charged(record: PaymentRecord) -> PaymentResult:
    if record.status == "REFUNDED":
        raise PaymentAlreadyRefunded(
            "The order's payment was refunded; it is not charged again", order_id=record.orderId
        )
    logger.info("payment already charged", extra={"order_id": record.orderId})
    return PaymentResult.of(record)


def _event(data: PaymentEventData, correlation_id: str, occurred_at: datetime) -> DomainEvent[Any]:
    return new_event(
        source=PAYMENTS_SOURCE,
        detail_type=data.detail_type,
        data=data,
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=occurred_at,
    )
