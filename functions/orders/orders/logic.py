"""The order aggregate: fold events into state, decide the next event, append it safely.

Pure functions on models; the event store, the saga starter, the clock and the id factory are
passed in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from orders.errors import (
    ConcurrentModification,
    CorruptOrderHistory,
    OrderNotCancellable,
    OrderNotCancelling,
    OrderNotFound,
    OrderNotPending,
    VersionTaken,
)
from orders.models import (
    DETAIL_TYPES,
    ORDER_SOURCE,
    PRODUCER,
    CancellationInput,
    ConfirmOrderInput,
    HistoryEntry,
    MarkOrderCancelledInput,
    MarkOrderNeedsAttentionInput,
    Order,
    OrderAccepted,
    OrderCancellationAccepted,
    OrderCancellationRequestedData,
    OrderCancelledData,
    OrderConfirmedData,
    OrderEventData,
    OrderEventItem,
    OrderNeedsAttentionData,
    OrderPlacedData,
    OrderRejectedData,
    OrderStatus,
    OrderView,
    PlaceOrder,
    RecordedEvent,
    RejectionReason,
    RejectOrderInput,
    SagaInput,
    SagaOrderResult,
    address_sealing_context,
)
from shop_shared.events import DomainEvent, new_event
from shop_shared.observability import logger, metrics

if TYPE_CHECKING:
    from orders.payment_token import TokenSealer
    from orders.repository import CancellationStarter, OrderEventStore, SagaStarter
    from shop_shared.sealing import Sealer

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]

MAX_APPEND_ATTEMPTS = 3
MAX_MESSAGE_LENGTH = 200

# contracts.md: the saga's error name (the failing Lambda's errorType) -> the order's reason.
REASONS: dict[str, RejectionReason] = {
    "OutOfStock": "OUT_OF_STOCK",
    "ProductNotFound": "UNKNOWN_PRODUCT",
    "MixedCurrencies": "MIXED_CURRENCIES",
    "PaymentDeclined": "PAYMENT_DECLINED",
    "PaymentProviderUnavailable": "PAYMENT_PROVIDER_UNAVAILABLE",
    "PaymentProviderCircuitOpen": "PAYMENT_PROVIDER_UNAVAILABLE",
    # The sealed card token does not open for the order (not sealed by PlaceOrder, or for
    # another order): nothing was charged, no retry can change that (issue 11).
    "PaymentTokenUnreadable": "PAYMENT_TOKEN_UNREADABLE",
    "ShippingUnavailable": "SHIPPING_UNAVAILABLE",
}
FALLBACK_REASON: RejectionReason = "SAGA_FAILED"
FALLBACK_MESSAGE = "The order could not be completed"
MAX_ATTENTION_MESSAGE_LENGTH = 500

# The order's life: (status, event) -> the next status. OrderNeedsAttention may follow any
# status but itself (a compensation can fail whatever the order had reached); anything else
# that does not fit is a corrupt history.
TRANSITIONS: dict[tuple[OrderStatus, type[OrderEventData]], OrderStatus] = {
    ("PENDING", OrderConfirmedData): "CONFIRMED",
    ("PENDING", OrderRejectedData): "REJECTED",
    ("CONFIRMED", OrderCancellationRequestedData): "CANCELLING",
    ("CANCELLING", OrderCancelledData): "CANCELLED",
}
NEEDS_ATTENTION: OrderStatus = "NEEDS_ATTENTION"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_order_id() -> str:
    return str(uuid.uuid4())


# ---------------------------------------------------------------- fold


def apply(order: Order | None, event: RecordedEvent) -> Order:
    """The state after `event`; an event that does not fit the state is a corrupt history."""
    data, at = event.data, event.occurred_at
    if order is None:
        if not isinstance(data, OrderPlacedData) or event.version != 1:
            raise CorruptOrderHistory(f"an order must start with OrderPlaced, got {event!r}")
        return Order(
            orderId=data.orderId,
            customerId=data.customerId,
            status="PENDING",
            items=tuple(data.items),
            shippingAddress=event.shippingAddress,
            history=(HistoryEntry(status="PENDING", at=at),),
            createdAt=at,
            updatedAt=at,
            version=1,
        )
    status = _next_status(order, event)
    changes: dict[str, Any] = {"status": status}
    if isinstance(data, OrderConfirmedData):
        changes.update(totalCents=data.totalCents, currency=data.currency)
    elif isinstance(data, OrderRejectedData):
        changes["reason"] = data.reason
    entry = HistoryEntry(status=status, at=at, reason=changes.get("reason"))
    return order.model_copy(
        update={
            **changes,
            "history": (*order.history, entry),
            "version": event.version,
            "updatedAt": at,
        }
    )


def _next_status(order: Order, event: RecordedEvent) -> OrderStatus:
    if event.version != order.version + 1:
        raise CorruptOrderHistory(f"event {event.version} does not follow version {order.version}")
    if isinstance(event.data, OrderNeedsAttentionData) and order.status != NEEDS_ATTENTION:
        return NEEDS_ATTENTION
    status = TRANSITIONS.get((order.status, type(event.data)))
    if status is None:
        raise CorruptOrderHistory(
            f"{DETAIL_TYPES[type(event.data)]} can't follow {order.status} "
            f"(version {event.version})"
        )
    return status


def fold(events: Iterable[RecordedEvent]) -> Order | None:
    order: Order | None = None
    for event in events:
        order = apply(order, event)
    return order


def load(store: OrderEventStore, order_id: str, as_of: datetime | None = None) -> Order | None:
    events = (item.recorded() for item in store.history(order_id))
    if as_of is not None:
        cutoff = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        events = (event for event in events if event.occurred_at <= cutoff)
    return fold(events)


# ---------------------------------------------------------------- commands


def place_order(
    command: PlaceOrder,
    *,
    store: OrderEventStore,
    clock: Clock,
    new_id: IdFactory,
    seal: TokenSealer,
    address_sealer: Sealer,
) -> OrderAccepted:
    """Write OrderPlaced as version 1; the payment token, sealed for this order (only
    ChargePayment can open it), is kept beside the event, not in it. The shipping address is
    in the event sealed for this order (only ScheduleShipment can open it), and clear beside
    it for the owner's GET /orders/{id}."""
    order_id = new_id()
    request = command.request
    address = request.shippingAddress
    data = OrderPlacedData(
        orderId=order_id,
        customerId=command.customerId,
        items=request.items,
        shippingAddressCiphertext=None
        if address is None
        else address_sealer.seal(
            address.model_dump_json(exclude_none=True), address_sealing_context(order_id)
        ),
    )
    store.append(
        OrderEventItem.of(
            _event(data, command.correlationId, clock),
            order_id=order_id,
            version=1,
            customer_id=command.customerId,
            payment_token_ciphertext=seal(request.paymentToken, order_id),
            shipping_address=address,
        )
    )
    logger.info("order placed", extra={"order_id": order_id, "lines": len(request.items)})
    metrics.add_metric(name="OrderPlaced", unit=MetricUnit.Count, value=1)
    return OrderAccepted(orderId=order_id)


def get_order(
    order_id: str, *, customer_id: str, as_of: datetime | None, store: OrderEventStore
) -> OrderView:
    """The caller's order (as it stood at `as_of`); someone else's order is 'not found' too."""
    order = load(store, order_id, as_of)
    if order is None or order.customerId != customer_id:
        raise OrderNotFound("No such order", order_id=order_id)
    return OrderView.of(order)


def confirm_order(
    task: ConfirmOrderInput, *, store: OrderEventStore, clock: Clock
) -> SagaOrderResult:
    def decide(order: Order) -> OrderEventData | None:
        if order.status == "CONFIRMED":
            return None
        _require_pending(order, "CONFIRMED")
        return OrderConfirmedData(
            orderId=order.orderId,
            customerId=order.customerId,
            totalCents=task.reservation.totalCents,
            currency=task.reservation.currency,
        )

    return _transition(task.orderId, task.correlationId, decide, store=store, clock=clock)


def reject_order(
    task: RejectOrderInput, *, store: OrderEventStore, clock: Clock
) -> SagaOrderResult:
    reason, message = rejection(task.error.Error, task.error.Cause)

    def decide(order: Order) -> OrderEventData | None:
        if order.status == "REJECTED":
            return None
        _require_pending(order, "REJECTED")
        return OrderRejectedData(
            orderId=order.orderId, customerId=order.customerId, reason=reason, message=message
        )

    return _transition(task.orderId, task.correlationId, decide, store=store, clock=clock)


def mark_order_needs_attention(
    task: MarkOrderNeedsAttentionInput, *, store: OrderEventStore, clock: Clock
) -> SagaOrderResult:
    """A compensation failed after its retries: the order NEEDS_ATTENTION from an operator."""
    failed_steps = list(task.compensationErrors)
    first = task.compensationErrors[failed_steps[0]]
    message = (_error_message(first.Cause) or first.Error)[:MAX_ATTENTION_MESSAGE_LENGTH]

    def decide(order: Order) -> OrderEventData | None:
        if order.status == NEEDS_ATTENTION:
            return None
        logger.warning(
            "order needs attention",
            extra={"order_id": order.orderId, "status": order.status, "failed": failed_steps},
        )
        return OrderNeedsAttentionData(
            orderId=order.orderId,
            customerId=order.customerId,
            failedStep=failed_steps[0],
            error=first.Error[:128],
            message=message,
            failedSteps=failed_steps,
        )

    return _transition(task.orderId, task.correlationId, decide, store=store, clock=clock)


def request_cancellation(
    order_id: str,
    *,
    customer_id: str,
    correlation_id: str,
    store: OrderEventStore,
    clock: Clock,
) -> OrderCancellationAccepted:
    """The owner cancels a CONFIRMED order: OrderCancellationRequested starts the workflow (from
    the orders stream). Any other status, a cancellation already under way included, is refused.
    """

    def decide(order: Order) -> OrderEventData:
        if order.customerId != customer_id:
            raise OrderNotFound("No such order", order_id=order_id)
        if order.status != "CONFIRMED":
            raise OrderNotCancellable(
                f"The order is {order.status}; only a CONFIRMED order can be cancelled",
                order_id=order_id,
                status=order.status,
            )
        return OrderCancellationRequestedData(orderId=order.orderId, customerId=order.customerId)

    _transition(order_id, correlation_id, decide, store=store, clock=clock)
    return OrderCancellationAccepted(orderId=order_id)


def mark_order_cancelled(
    task: MarkOrderCancelledInput, *, store: OrderEventStore, clock: Clock
) -> SagaOrderResult:
    def decide(order: Order) -> OrderEventData | None:
        if order.status == "CANCELLED":
            return None
        if order.status != "CANCELLING":
            raise OrderNotCancelling(
                f"The order is {order.status}; its cancellation was not requested",
                order_id=order.orderId,
                status=order.status,
            )
        return OrderCancelledData(orderId=order.orderId, customerId=order.customerId)

    return _transition(task.orderId, task.correlationId, decide, store=store, clock=clock)


def rejection(error: str, cause: str | None) -> tuple[RejectionReason, str]:
    """The order's reason for a saga error, and a short message for the customer.

    The message is the failing function's errorMessage for the business errors, which are
    written for customers; anything else (a bug, a timeout) gets a generic message, so internal
    details never reach a customer's notification. The cause is logged instead.
    """
    reason = REASONS.get(error)
    if reason is None:
        logger.warning("saga failed", extra={"error": error, "cause": (cause or "")[:1000]})
        return FALLBACK_REASON, FALLBACK_MESSAGE
    message = _error_message(cause) or FALLBACK_MESSAGE
    return reason, message[:MAX_MESSAGE_LENGTH]


def _error_message(cause: str | None) -> str | None:
    try:
        parsed: Any = json.loads(cause or "")
    except ValueError:
        return None
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    return message.strip()


def _require_pending(order: Order, target: OrderStatus) -> None:
    if order.status != "PENDING":
        raise OrderNotPending(
            f"The order is {order.status} and cannot become {target}",
            order_id=order.orderId,
            status=order.status,
        )


def _transition(
    order_id: str,
    correlation_id: str | None,
    decide: Callable[[Order], OrderEventData | None],
    *,
    store: OrderEventStore,
    clock: Clock,
) -> SagaOrderResult:
    """Read, decide, append at the next version; on a lost race read again and decide again."""
    for _ in range(MAX_APPEND_ATTEMPTS):
        order = load(store, order_id)
        if order is None:
            raise OrderNotFound("No such order", order_id=order_id)
        data = decide(order)
        if data is None:
            logger.info("order unchanged", extra={"order_id": order_id, "status": order.status})
            return SagaOrderResult(orderId=order_id, status=order.status)
        event = _event(data, correlation_id or order_id, clock)
        item = OrderEventItem.of(
            event, order_id=order_id, version=order.version + 1, customer_id=order.customerId
        )
        try:
            store.append(item)
        except VersionTaken:
            logger.info("lost a concurrent append", extra={"order_id": order_id})
            continue
        changed = apply(order, item.recorded())
        logger.info("order changed", extra={"order_id": order_id, "status": changed.status})
        metrics.add_metric(name=item.detailType, unit=MetricUnit.Count, value=1)
        return SagaOrderResult(orderId=order_id, status=changed.status)
    raise ConcurrentModification("The order is being changed concurrently", order_id=order_id)


def _event(data: OrderEventData, correlation_id: str, clock: Clock) -> DomainEvent[Any]:
    return new_event(
        source=ORDER_SOURCE,
        detail_type=DETAIL_TYPES[type(data)],
        data=data,
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=clock(),
    )


# ---------------------------------------------------------------- saga start


def saga_input(item: OrderEventItem) -> SagaInput:
    """The saga's input from the OrderPlaced item of the orders stream."""
    event = item.recorded()
    placed = event.data
    if not isinstance(placed, OrderPlacedData) or item.paymentTokenCiphertext is None:
        raise CorruptOrderHistory(f"not an OrderPlaced item with a payment token: {item.sk}")
    return SagaInput(
        orderId=placed.orderId,
        customerId=placed.customerId,
        items=placed.items,
        paymentTokenCiphertext=item.paymentTokenCiphertext,
        shippingAddressCiphertext=placed.shippingAddressCiphertext,
        correlationId=event.metadata.correlationId,
    )


def start_order_saga(item: OrderEventItem, *, starter: SagaStarter) -> bool:
    """Start the order's saga; starting it again (a redelivered record) changes nothing."""
    saga = saga_input(item)
    started = starter.start(saga)
    logger.info("saga start requested", extra={"order_id": saga.orderId, "new": started})
    if started:
        metrics.add_metric(name="OrderSagaStarted", unit=MetricUnit.Count, value=1)
    return started


# ---------------------------------------------------------------- cancellation start


def cancellation_input(item: OrderEventItem) -> CancellationInput:
    """The cancellation workflow's input from the OrderCancellationRequested item."""
    event = item.recorded()
    requested = event.data
    if not isinstance(requested, OrderCancellationRequestedData):
        raise CorruptOrderHistory(f"not an OrderCancellationRequested item: {item.sk}")
    return CancellationInput(
        orderId=requested.orderId,
        customerId=requested.customerId,
        correlationId=event.metadata.correlationId,
    )


def start_order_cancellation(item: OrderEventItem, *, starter: CancellationStarter) -> bool:
    """Start the order's cancellation once (execution name `cancel-<orderId>`)."""
    cancellation = cancellation_input(item)
    started = starter.start(cancellation)
    logger.info(
        "cancellation start requested", extra={"order_id": cancellation.orderId, "new": started}
    )
    if started:
        metrics.add_metric(name="OrderCancellationStarted", unit=MetricUnit.Count, value=1)
    return started


# ---------------------------------------------------------------- one starter for both


def start_order_workflow(
    item: OrderEventItem, *, saga: SagaStarter, cancellation: CancellationStarter
) -> bool:
    """The workflow an orders stream item asks for: the saga for OrderPlaced, the cancellation
    for OrderCancellationRequested. Any other event starts nothing: it is refused (the
    template's filter keeps it away; a record that still comes is a bad deploy, and fails)."""
    if item.detailType == "OrderPlaced":
        return start_order_saga(item, starter=saga)
    if item.detailType == "OrderCancellationRequested":
        return start_order_cancellation(item, starter=cancellation)
    raise CorruptOrderHistory(f"{item.detailType} starts no workflow: {item.sk}")
