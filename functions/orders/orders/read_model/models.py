"""The read model's models, one set per boundary, mapped explicitly:

- input: `BusEventRecord`, an SQS record whose body is an EventBridge event of shop.orders;
- domain: `OrderSummary` (what the read model tells about an order), `HeldSummary` (what the
  projection holds for an order: its version and the fold's state), `SummaryPage`,
  `ProjectionOutcome`, `RebuildReport`;
- stored: `OrderSummaryItem` (OrderSummariesTable; only the repository uses it);
- API: `OrderSummaryView`, `OrderList`, and the opaque `?cursor=` (`PageCursor`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from orders.models import (
    UUID_PATTERN,
    Cents,
    Currency,
    CustomerId,
    Order,
    OrderId,
    OrderStatus,
    order_pk,
)
from orders.read_model.errors import InvalidCursor
from shop_shared.models import ShopModel

SUMMARY_ITEM_TYPE = "ORDER_SUMMARY"
CUSTOMER_INDEX = "ByCustomerNewestFirst"  # template.yaml: OrderSummariesTable's GSI
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,512}$"

# The index's sort key: the creation time in UTC at a fixed width (so text order is time order)
# and the order id (so two orders of the same microsecond still have a place each).
_CREATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
CREATED_KEY_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#" + UUID_PATTERN.removeprefix(
    "^"
)
CreatedKey = Annotated[str, StringConstraints(pattern=CREATED_KEY_PATTERN)]


def created_key(created_at: datetime, order_id: str) -> str:
    return f"{created_at.astimezone(UTC).strftime(_CREATED_AT_FORMAT)}#{order_id}"


# ---------------------------------------------------------------- input


# ---------------------------------------------------------------- domain


class OrderSummary(ShopModel):
    """What the read model tells about one order."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    orderId: OrderId
    customerId: CustomerId
    status: OrderStatus
    totalCents: Cents | None = None
    currency: Currency | None = None
    createdAt: datetime
    updatedAt: datetime
    version: int = Field(ge=1)

    @classmethod
    def of(cls, order: Order) -> OrderSummary:
        return cls(
            orderId=order.orderId,
            customerId=order.customerId,
            status=order.status,
            totalCents=order.totalCents,
            currency=order.currency,
            createdAt=order.createdAt,
            updatedAt=order.updatedAt,
            version=order.version,
        )


class HeldSummary(ShopModel):
    """What the projection holds for an order: the version it has folded up to, and the fold's
    state at that version (None when this code can no longer read the stored state)."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    order: Order | None


class SummaryPage(ShopModel):
    model_config = ConfigDict(frozen=True)

    summaries: list[OrderSummary]
    next_after: CreatedKey | None  # the last summary's place, when more follow


ProjectionAction = Literal["applied", "caught_up", "stale", "ignored"]


class ProjectionOutcome(ShopModel):
    """What projecting one event did: folded it onto the held state (`applied`), folded the
    order's whole history from the event store (`caught_up`: an earlier event had not arrived,
    or the event carried no version), nothing because the read model already holds that
    version or a newer one (`stale`), or nothing because the fold does not know it (`ignored`)."""

    action: ProjectionAction
    orderId: str | None = None
    version: int | None = None


class RebuildReport(ShopModel):
    orders: int = 0  # orders found in the event store
    written: int = 0  # summaries written (new, or replaced at the same or an older version)
    kept: int = 0  # summaries left alone: the table already held a newer version


# ---------------------------------------------------------------- stored item


class OrderSummaryItem(ShopModel):
    """One item of OrderSummariesTable: the summary, the index keys, and the fold's state.

    `state` (the `Order` the fold reached, as JSON) is what the next event is folded onto; it is
    not projected into the customer index, which carries only what the list shows. It leaves
    out the shipping address: the list never shows it, and the events the read model folds
    carry it only sealed (an order folded from the event store and one folded from the bus hold
    the same state).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, StringConstraints(pattern=r"^ORDER#")]
    itemType: Literal["ORDER_SUMMARY"]
    orderId: OrderId
    customerId: CustomerId
    status: str = Field(min_length=1)
    totalCents: int | None = None
    currency: str | None = None
    createdAt: datetime
    updatedAt: datetime
    version: int = Field(ge=1)
    createdKey: CreatedKey
    state: str = Field(min_length=2)

    @classmethod
    def of(cls, order: Order) -> OrderSummaryItem:
        return cls(
            pk=order_pk(order.orderId),
            itemType=SUMMARY_ITEM_TYPE,
            orderId=order.orderId,
            customerId=order.customerId,
            status=order.status,
            totalCents=order.totalCents,
            currency=order.currency,
            createdAt=order.createdAt,
            updatedAt=order.updatedAt,
            version=order.version,
            createdKey=created_key(order.createdAt, order.orderId),
            state=order.model_dump_json(exclude={"shippingAddress"}),
        )

    def held(self) -> HeldSummary:
        try:
            order: Order | None = Order.model_validate_json(self.state)
        except ValidationError:
            order = None
        return HeldSummary(version=self.version, order=order)

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- API


class OrderSummaryView(ShopModel):
    """One order in GET /v1/orders; the total stays null until the order is confirmed."""

    orderId: OrderId
    status: OrderStatus
    totalCents: Cents | None
    currency: Currency | None
    createdAt: datetime

    @classmethod
    def of(cls, summary: OrderSummary) -> OrderSummaryView:
        return cls(
            orderId=summary.orderId,
            status=summary.status,
            totalCents=summary.totalCents,
            currency=summary.currency,
            createdAt=summary.createdAt,
        )


class OrderList(ShopModel):
    """200 body of GET /v1/orders: the caller's orders, newest first."""

    items: list[OrderSummaryView]
    nextCursor: str | None = Field(
        description="Pass as ?cursor= to get the next page; null on the last page"
    )


class PageCursor(ShopModel):
    """`?cursor=`: where the next page starts, for one customer. Opaque to clients: base64url of
    this model's JSON. `check` is an HMAC-SHA256 of the customer and the position under a key
    only list_orders has (the template's OrderListCursorKeySecret), so a cursor that was edited,
    made up, cut short or handed to another customer is refused (400) rather than paging from an
    odd place. (Whatever a cursor says, the query only ever reads the caller's own orders.)"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    after: CreatedKey
    check: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]

    @classmethod
    def at(cls, customer_id: str, after: str, key: bytes) -> PageCursor:
        return cls(after=after, check=_check(customer_id, after, key))

    def encode(self) -> str:
        raw = self.model_dump_json().encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str, customer_id: str, key: bytes) -> PageCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor = cls.model_validate(json.loads(raw))
        except (binascii.Error, ValueError, ValidationError) as error:
            raise InvalidCursor("The cursor is not valid; start again without one") from error
        if not hmac.compare_digest(cursor.check, _check(customer_id, cursor.after, key)):
            raise InvalidCursor("The cursor is not valid; start again without one")
        return cursor


def _check(customer_id: str, after: str, key: bytes) -> str:
    signed = f"{customer_id}\n{after}".encode()
    return hmac.new(key, signed, hashlib.sha256).hexdigest()[:32]  # a 128-bit tag
