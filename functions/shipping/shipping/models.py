"""Shipping models, one set per boundary, with explicit mapping between them.

- Saga: `ScheduleShipmentInput` / `ShipmentResult`, `CancelShipmentInput` /
  `CancellationResult` (the shapes of docs/contracts.md).
- Bus input: `BusEventRecord`, an SQS record whose body is an EventBridge event (`BusEvent`),
  and `CustomerRegistered`, shipping's view of that event's `data`.
- Domain: `Address`, `Shipment`, `CustomerAddress` (what the logic works on).
- Stored items: `ShipmentItem`, `AddressItem` (only the repository uses them).
- Events: see `shipping.events`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from shop_shared.models import ShopModel
from shop_shared.sealing import SealedValue

OrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")]
CustomerId = Annotated[str, Field(min_length=1, max_length=128)]
Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2

_FROZEN = ConfigDict(frozen=True)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- domain


class Address(ShopModel):
    """A postal address, the same shape orders and customers use."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    line1: Annotated[str, Field(min_length=1, max_length=200)]
    line2: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=100)]
    postalCode: Annotated[str, Field(min_length=1, max_length=20)]
    country: CountryCode


class ShipmentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class ShipmentLine(ShopModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    quantity: Annotated[int, Field(gt=0, le=1000)]


class Shipment(ShopModel):
    """An order's shipment. A CANCELLED shipment without a carrier is a tombstone: the
    compensation ran before any shipment existed, and no later ScheduleShipment may schedule."""

    model_config = _FROZEN

    order_id: OrderId
    status: ShipmentStatus
    customer_id: CustomerId | None
    carrier: str | None
    tracking_id: str | None
    address: Address | None
    lines: tuple[ShipmentLine, ...]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def tombstone(cls, order_id: str, now: datetime) -> Shipment:
        return cls(
            order_id=order_id,
            status=ShipmentStatus.CANCELLED,
            customer_id=None,
            carrier=None,
            tracking_id=None,
            address=None,
            lines=(),
            created_at=now,
            updated_at=now,
        )

    @property
    def is_tombstone(self) -> bool:
        return self.carrier is None

    def cancelled(self, now: datetime) -> Shipment:
        return self.model_copy(update={"status": ShipmentStatus.CANCELLED, "updated_at": now})


class CustomerAddress(ShopModel):
    """A customer's registered address as of an event (newer events win)."""

    model_config = _FROZEN

    customer_id: CustomerId
    address: Address
    as_of: datetime
    event_id: str


# ---------------------------------------------------------------- saga


class SagaTask(ShopModel):
    """What every shipping task reads from the execution's state (the rest is ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    orderId: OrderId
    correlationId: str | None = Field(default=None, min_length=1)

    @property
    def correlation_id(self) -> str:
        return self.correlationId or self.orderId


class ScheduleShipmentInput(SagaTask):
    """The order's own shipping address, if it has one, comes sealed for the order
    (shop_shared.sealing): only ScheduleShipment opens it, with `address_context`."""

    customerId: CustomerId
    items: Annotated[list[ShipmentLine], Field(min_length=1, max_length=50)]
    shippingAddressCiphertext: SealedValue | None = None

    def address_context(self) -> dict[str, str]:
        return {"orderId": self.orderId, "field": "shippingAddress"}


class CancelShipmentInput(SagaTask):
    pass


class ShipmentResult(ShopModel):
    """`$.shipment`: what ScheduleShipment returns into the saga's state."""

    orderId: OrderId
    status: Literal["SCHEDULED"] = "SCHEDULED"
    carrier: str
    trackingId: str
    country: CountryCode

    @classmethod
    def of(cls, shipment: Shipment) -> ShipmentResult:
        if shipment.carrier is None or shipment.tracking_id is None or shipment.address is None:
            raise ValueError(f"shipment of {shipment.order_id} was never scheduled")
        return cls(
            orderId=shipment.order_id,
            carrier=shipment.carrier,
            trackingId=shipment.tracking_id,
            country=shipment.address.country,
        )


class CancellationResult(ShopModel):
    """`$.shipmentCancellation`: CANCELLED, with the tracking id when a shipment existed."""

    orderId: OrderId
    status: Literal["CANCELLED"] = "CANCELLED"
    trackingId: str | None = None

    @classmethod
    def of(cls, shipment: Shipment) -> CancellationResult:
        return cls(orderId=shipment.order_id, trackingId=shipment.tracking_id)


# ---------------------------------------------------------------- internal query (not on the API)


class GetShipmentInput(ShopModel):
    """What GetShipmentFunction is invoked with (orders' GET /orders/{id}/details)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    orderId: OrderId
    correlationId: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class ShipmentView(ShopModel):
    """An order's shipment as other services see it (no address, no lines: those are the
    order's)."""

    status: ShipmentStatus
    carrier: str
    trackingId: str
    country: CountryCode


class ShipmentAnswer(ShopModel):
    """GetShipmentFunction's answer: the order's shipment, or `found: false` (never an error)
    when none was ever scheduled. A tombstone (a cancellation that ran before any shipment
    existed) is shipping's own bookkeeping: to others it is no shipment."""

    orderId: OrderId
    found: bool
    shipment: ShipmentView | None

    @classmethod
    def of(cls, order_id: str, shipment: Shipment | None) -> ShipmentAnswer:
        view = None
        if shipment is not None and not shipment.is_tombstone:
            if shipment.carrier is None or shipment.tracking_id is None or shipment.address is None:
                raise ValueError(f"shipment of {order_id} has a carrier but no tracking/address")
            view = ShipmentView(
                status=shipment.status,
                carrier=shipment.carrier,
                trackingId=shipment.tracking_id,
                country=shipment.address.country,
            )
        return cls(orderId=order_id, found=view is not None, shipment=view)


# ---------------------------------------------------------------- bus input


class CustomerRegistered(ShopModel):
    """Shipping's view of CustomerRegistered's data: who, and where they live (the address
    sealed for the customer, opened with `address_context`; the sealed email is not read)."""

    customerId: CustomerId
    addressCiphertext: SealedValue

    def address_context(self) -> dict[str, str]:
        return {"customerId": self.customerId, "field": "address"}


class RecordOutcome(ShopModel):
    """What handling one event did; JSON-able, as Powertools Idempotency stores it."""

    action: Literal["address_saved", "stale_address_ignored", "ignored"]
    eventId: str | None = None


# ---------------------------------------------------------------- stored items


def epoch_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (naive datetimes are taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(microseconds=1)


def shipment_key(order_id: str) -> dict[str, str]:
    return {"pk": f"SHIPMENT#{order_id}"}


def address_key(customer_id: str) -> dict[str, str]:
    return {"pk": f"ADDRESS#{customer_id}"}


class ShipmentItem(ShopModel):
    model_config = ConfigDict(extra="ignore")

    pk: str
    itemType: Literal["SHIPMENT"] = "SHIPMENT"
    orderId: str
    status: ShipmentStatus
    customerId: str | None = None
    carrier: str | None = None
    trackingId: str | None = None
    address: Address | None = None
    lines: list[ShipmentLine] = []
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def from_shipment(cls, shipment: Shipment) -> ShipmentItem:
        return cls(
            **shipment_key(shipment.order_id),
            orderId=shipment.order_id,
            status=shipment.status,
            customerId=shipment.customer_id,
            carrier=shipment.carrier,
            trackingId=shipment.tracking_id,
            address=shipment.address,
            lines=list(shipment.lines),
            createdAt=shipment.created_at,
            updatedAt=shipment.updated_at,
        )

    def to_shipment(self) -> Shipment:
        return Shipment(
            order_id=self.orderId,
            status=self.status,
            customer_id=self.customerId,
            carrier=self.carrier,
            tracking_id=self.trackingId,
            address=self.address,
            lines=tuple(self.lines),
            created_at=self.createdAt,
            updated_at=self.updatedAt,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class AddressItem(ShopModel):
    model_config = ConfigDict(extra="ignore")

    pk: str
    itemType: Literal["ADDRESS"] = "ADDRESS"
    customerId: str
    address: Address
    asOf: datetime
    asOfMicros: int  # asOf as a number: "newer wins" compares this, never ISO text
    eventId: str

    @classmethod
    def from_customer_address(cls, registered: CustomerAddress) -> AddressItem:
        return cls(
            **address_key(registered.customer_id),
            customerId=registered.customer_id,
            address=registered.address,
            asOf=registered.as_of,
            asOfMicros=epoch_micros(registered.as_of),
            eventId=registered.event_id,
        )

    def to_customer_address(self) -> CustomerAddress:
        return CustomerAddress(
            customer_id=self.customerId,
            address=self.address,
            as_of=self.asOf,
            event_id=self.eventId,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
