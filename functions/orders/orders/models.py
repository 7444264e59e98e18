"""The orders service's models: API request/response, stored event item, events, saga payloads.

Layers are mapped explicitly: a request becomes a command, a command becomes an event, stored
events fold into an `Order`, and an `Order` becomes an `OrderView` for the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints, model_validator

from shop_shared.events import DomainEvent, EventMetadata, event_item, parse_detail
from shop_shared.models import ShopModel
from shop_shared.numbers import WholeNumber
from shop_shared.sealing import SealedValue
from shop_shared.text import OneLine

ORDER_SOURCE = "shop.orders"
PRODUCER = "orders"

OrderStatus = Literal[
    "PENDING", "CONFIRMED", "REJECTED", "CANCELLING", "CANCELLED", "NEEDS_ATTENTION"
]
RejectionReason = Literal[
    "OUT_OF_STOCK",
    "UNKNOWN_PRODUCT",
    "MIXED_CURRENCIES",
    "PAYMENT_DECLINED",
    "PAYMENT_PROVIDER_UNAVAILABLE",
    "PAYMENT_TOKEN_UNREADABLE",
    "SHIPPING_UNAVAILABLE",
    "SAGA_FAILED",
]
OrderEventType = Literal[
    "OrderPlaced",
    "OrderConfirmed",
    "OrderRejected",
    "OrderCancellationRequested",
    "OrderCancelled",
    "OrderNeedsAttention",
]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

OrderId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
Quantity = Annotated[StrictInt, Field(ge=1, le=100), WholeNumber]
PaymentToken = Annotated[str, StringConstraints(pattern=r"^tok_[A-Za-z0-9_]{1,64}$")]
# The payment token sealed with the payment-token KMS key for one order (orders.payment_token).
SealedPaymentToken = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9+/]+={0,2}$", min_length=16, max_length=8192)
]
IdempotencyKey = Annotated[str, StringConstraints(pattern=IDEMPOTENCY_KEY_PATTERN)]
Cents = Annotated[int, Field(ge=0)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
AddressLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
]

MAX_ORDER_LINES = 25


def _is_none(value: object) -> bool:
    return value is None


# ---------------------------------------------------------------- value objects


class OrderLine(ShopModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: Quantity


class ShippingAddress(ShopModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: AddressLine
    line2: AddressLine | None = None
    city: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), OneLine
    ]
    postalCode: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16), OneLine
    ]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2


# ---------------------------------------------------------------- API


class PlaceOrderRequest(ShopModel):
    """POST /orders body. No prices: the saga's ReserveStock prices the order from the catalog."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    paymentToken: PaymentToken
    shippingAddress: ShippingAddress | None = None

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> PlaceOrderRequest:
        skus = [line.sku for line in self.items]
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        if duplicates:
            raise ValueError(f"each sku may appear once; repeated: {', '.join(duplicates)}")
        return self


class PlaceOrder(ShopModel):
    """The command behind POST /orders: who asks, with which idempotency key, for what."""

    model_config = ConfigDict(frozen=True)

    customerId: CustomerId
    idempotencyKey: IdempotencyKey | None = None
    correlationId: str = Field(min_length=1)
    request: PlaceOrderRequest


class OrderAccepted(ShopModel):
    """202 body of POST /orders."""

    orderId: OrderId
    status: Literal["PENDING"] = "PENDING"


class HistoryEntry(ShopModel):
    model_config = ConfigDict(frozen=True)

    status: OrderStatus
    at: datetime
    reason: RejectionReason | None = Field(default=None, exclude_if=_is_none)


class OrderView(ShopModel):
    """200 body of GET /orders/{orderId}; totals stay null until the order is confirmed."""

    orderId: OrderId
    customerId: CustomerId
    status: OrderStatus
    items: list[OrderLine]
    shippingAddress: ShippingAddress | None
    totalCents: Cents | None
    currency: Currency | None
    history: list[HistoryEntry]
    createdAt: datetime
    updatedAt: datetime
    reason: RejectionReason | None = Field(default=None, exclude_if=_is_none)

    @classmethod
    def of(cls, order: Order) -> OrderView:
        return cls(
            orderId=order.orderId,
            customerId=order.customerId,
            status=order.status,
            items=list(order.items),
            shippingAddress=order.shippingAddress,
            totalCents=order.totalCents,
            currency=order.currency,
            history=list(order.history),
            createdAt=order.createdAt,
            updatedAt=order.updatedAt,
            reason=order.reason,
        )


# ---------------------------------------------------------------- events (data of the detail)


class OrderPlacedData(ShopModel):
    """The order's own shipping address, if it has one, is on the bus and in the saga only
    sealed for the order (`address_sealing_context`; only ScheduleShipment opens it); the
    clear one stays beside the event in OrdersTable (OrderEventItem.shippingAddress)."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    items: list[OrderLine]
    shippingAddressCiphertext: SealedValue | None = None


def address_sealing_context(order_id: str) -> dict[str, str]:
    """The encryption context that binds a sealed shipping address to its order."""
    return {"orderId": order_id, "field": "shippingAddress"}


class OrderConfirmedData(ShopModel):
    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    totalCents: Cents
    currency: Currency


class OrderRejectedData(ShopModel):
    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    reason: RejectionReason
    message: str = Field(min_length=1, max_length=200)


class OrderCancellationRequestedData(ShopModel):
    """The customer asked to cancel a CONFIRMED order; the cancellation workflow undoes it."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId


class OrderCancelledData(ShopModel):
    """Every step of the order was undone: shipment cancelled, payment refunded, stock back."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId


StepName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]


class OrderNeedsAttentionData(ShopModel):
    """A compensation still failed after its retries: an operator has to finish the order.

    `failedStep` and `error` are the first failure (`failedSteps` lists every one, in the order
    the workflow ran them); `message` is that error's message, for the operator.
    """

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    failedStep: StepName
    error: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=500)
    failedSteps: Annotated[list[StepName], Field(min_length=1)]


OrderEventData = (
    OrderPlacedData
    | OrderConfirmedData
    | OrderRejectedData
    | OrderCancellationRequestedData
    | OrderCancelledData
    | OrderNeedsAttentionData
)

DATA_MODELS: dict[OrderEventType, type[OrderEventData]] = {
    "OrderPlaced": OrderPlacedData,
    "OrderConfirmed": OrderConfirmedData,
    "OrderRejected": OrderRejectedData,
    "OrderCancellationRequested": OrderCancellationRequestedData,
    "OrderCancelled": OrderCancelledData,
    "OrderNeedsAttention": OrderNeedsAttentionData,
}
DETAIL_TYPES: dict[type[OrderEventData], OrderEventType] = {
    model: detail_type for detail_type, model in DATA_MODELS.items()
}


class RecordedEvent(ShopModel):
    """An event read back from the store, typed, with its place in the order's history."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    metadata: EventMetadata
    data: OrderEventData
    shippingAddress: ShippingAddress | None = None  # OrderPlaced's, kept beside the event

    @property
    def occurred_at(self) -> datetime:
        return self.metadata.occurredAt


# ---------------------------------------------------------------- stored item


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


PLACED_BY_HOUR_INDEX = "OrdersPlacedByHour"


def placed_hour(at: datetime) -> str:
    """The OrdersPlacedByHour index's key of an order placed at `at`: its UTC hour."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _at_version(event: DomainEvent[Any], version: int) -> DomainEvent[Any]:
    """The event with its version in the envelope (`metadata.aggregateVersion`), so consumers
    of the bus (the read model) can tell a stale or duplicate event from a newer one."""
    metadata = event.detail.metadata.model_copy(update={"aggregateVersion": version})
    detail = event.detail.model_copy(update={"metadata": metadata})
    return event.model_copy(update={"detail": detail})


class OrderEventItem(ShopModel):
    """One item of the orders event store, as DynamoDB holds it (resource-level types).

    `paymentTokenCiphertext` (the card token sealed with the payment-token KMS key for this
    order; never the token itself) sits beside the OrderPlaced event, never inside it: the saga
    starter reads it from the stream image, while the event's detail (which goes on the bus)
    does not carry it. `shippingAddress` (the order's own, clear) sits beside it too, for the
    owner's GET /orders/{id}: the event carries it only sealed.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, StringConstraints(pattern=r"^ORDER#")]
    sk: Annotated[str, StringConstraints(pattern=r"^V#\d{6}$")]
    itemType: Literal["EVENT"]
    eventId: str = Field(min_length=1)
    source: Literal["shop.orders"]
    detailType: OrderEventType
    detail: str = Field(min_length=2)
    occurredAt: str
    version: int = Field(ge=1)
    customerId: CustomerId
    paymentTokenCiphertext: SealedPaymentToken | None = None
    shippingAddress: ShippingAddress | None = None
    # OrderPlaced only: the UTC hour it was placed in (the sparse OrdersPlacedByHour index)
    placedHour: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d\d-\d\dT\d\d$")] | None = None

    @classmethod
    def of(
        cls,
        event: DomainEvent[Any],
        *,
        order_id: str,
        version: int,
        customer_id: str,
        payment_token_ciphertext: str | None = None,
        shipping_address: ShippingAddress | None = None,
    ) -> OrderEventItem:
        key = {"pk": order_pk(order_id), "sk": f"V#{version:06d}"}
        item = event_item(_at_version(event, version), key=key, expires=False)
        placed = event.detail_type == "OrderPlaced"
        return cls.model_validate(
            {
                **item,
                "version": version,
                "customerId": customer_id,
                "paymentTokenCiphertext": payment_token_ciphertext,
                "shippingAddress": shipping_address,
                "placedHour": placed_hour(event.detail.metadata.occurredAt) if placed else None,
            }
        )

    @property
    def order_id(self) -> str:
        return self.pk.removeprefix("ORDER#")

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def recorded(self) -> RecordedEvent:
        detail = parse_detail(self.detail, DATA_MODELS[self.detailType])
        return RecordedEvent(
            version=self.version,
            metadata=detail.metadata,
            data=detail.data,
            shippingAddress=self.shippingAddress,
        )


# ---------------------------------------------------------------- aggregate state


class Order(ShopModel):
    """The state of an order: the fold of its events (see logic.fold)."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    status: OrderStatus
    items: tuple[OrderLine, ...]
    shippingAddress: ShippingAddress | None = None
    totalCents: Cents | None = None
    currency: Currency | None = None
    reason: RejectionReason | None = None
    history: tuple[HistoryEntry, ...]
    createdAt: datetime
    updatedAt: datetime
    version: int = Field(ge=1)


# ---------------------------------------------------------------- saga payloads


class SagaInput(ShopModel):
    """Input of the order saga (contracts.md), started with execution name = order id."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    items: list[OrderLine]
    paymentTokenCiphertext: SealedPaymentToken  # only ChargePayment can decrypt it
    shippingAddressCiphertext: SealedValue | None = None  # only ScheduleShipment can
    correlationId: str = Field(min_length=1)


class CancellationInput(ShopModel):
    """Input of the cancellation workflow, started with execution name `cancel-<orderId>`."""

    model_config = ConfigDict(frozen=True)

    orderId: OrderId
    customerId: CustomerId
    correlationId: str = Field(min_length=1)

    @property
    def execution_name(self) -> str:
        return f"cancel-{self.orderId}"


class SagaTask(ShopModel):
    """What every orders task reads from the saga's state (the rest of the state is ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    orderId: OrderId
    correlationId: str | None = Field(default=None, min_length=1)


class ReservationTotal(ShopModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    totalCents: Cents
    currency: Currency


class PaymentTotal(ShopModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    paymentId: str = Field(min_length=1)
    amountCents: Cents
    currency: Currency


class ConfirmOrderInput(SagaTask):
    reservation: ReservationTotal
    payment: PaymentTotal

    @model_validator(mode="after")
    def _paid_what_was_priced(self) -> ConfirmOrderInput:
        paid = (self.payment.amountCents, self.payment.currency)
        if paid != (self.reservation.totalCents, self.reservation.currency):
            raise ValueError("the payment does not match the reservation's total")
        return self


class SagaError(ShopModel):
    """`$.error` as a Catch writes it: the error name and its cause (Lambda's error JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    Error: str = Field(min_length=1)
    Cause: str | None = None


class RejectOrderInput(SagaTask):
    error: SagaError


class MarkOrderNeedsAttentionInput(SagaTask):
    """The workflow's state when a compensation failed: `compensationErrors` holds each failed
    step's error under the step's name (contracts.md)."""

    customerId: CustomerId
    compensationErrors: Annotated[dict[StepName, SagaError], Field(min_length=1)]


class MarkOrderCancelledInput(SagaTask):
    pass


class OrderCancellationAccepted(ShopModel):
    """202 body of POST /orders/{orderId}/cancel."""

    orderId: OrderId
    status: Literal["CANCELLING"] = "CANCELLING"


class SagaOrderResult(ShopModel):
    """What ConfirmOrder and RejectOrder return into the saga's state."""

    orderId: OrderId
    status: OrderStatus
