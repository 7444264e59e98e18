"""Inventory models, one set per boundary, with explicit mapping between them.

- API: `UpsertProductRequest` in, `ProductResponse` / `ProductListResponse` out.
- Saga: `ReserveStockInput` / `ReservationResult`, `ReleaseStockInput` / `ReleaseResult`
  (the shapes of docs/contracts.md).
- Domain: `Product`, `ProductPage`, `Reservation` (what the logic works on).
- Stored items: `ProductItem`, `ReservationItem` (the table's layout; only the repository
  uses them), `CatalogPosition` (a key of the CatalogBySku index, the API's opaque cursor).
- Events: `ProductUpserted`, `StockReserved`, `StockReleased` (the `data` of each event).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from shop_shared.models import ShopModel
from shop_shared.numbers import WholeNumber
from shop_shared.text import OneLine

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
MAX_ORDER_LINES = 50  # one TransactWriteItems holds 100 items: lines + reservation + event
MAX_PRICE_CENTS = 100_000_000  # 1,000,000.00: far below DynamoDB's 38 digits, even times stock
MAX_STOCK = 1_000_000

Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
ProductName = Annotated[str, Field(min_length=1, max_length=200), OneLine]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
PriceCents = Annotated[int, Field(gt=0)]
StockLevel = Annotated[int, Field(ge=0)]
Quantity = Annotated[int, Field(gt=0, le=1000)]
OrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")]

_FROZEN = ConfigDict(frozen=True)


# ---------------------------------------------------------------- API


class UpsertProductRequest(ShopModel):
    """PUT /products/{sku} body; `stock` sets the on-hand available stock."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: ProductName
    priceCents: Annotated[int, Field(gt=0, le=MAX_PRICE_CENTS, strict=True), WholeNumber]
    currency: Currency
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK, strict=True), WholeNumber]


class ProductResponse(ShopModel):
    sku: str
    name: str
    priceCents: int
    currency: str
    available: int

    @classmethod
    def from_product(cls, product: Product) -> ProductResponse:
        return cls(
            sku=product.sku,
            name=product.name,
            priceCents=product.price_cents,
            currency=product.currency,
            available=product.stock,
        )


DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 200  # a cursor we issue is about 100 characters


class ProductListResponse(ShopModel):
    """200 body of GET /products: one page of the catalog in SKU order."""

    items: list[ProductResponse]
    nextCursor: str | None  # pass as ?cursor= for the next page; null on the last page

    @classmethod
    def from_page(cls, page: ProductPage) -> ProductListResponse:
        return cls(
            items=[ProductResponse.from_product(product) for product in page.products],
            nextCursor=page.next.to_cursor() if page.next else None,
        )


# ---------------------------------------------------------------- domain


class Product(ShopModel):
    model_config = _FROZEN

    sku: Sku
    name: ProductName
    price_cents: PriceCents
    currency: Currency
    stock: StockLevel
    created_at: datetime
    updated_at: datetime


class ProductPage(ShopModel):
    """Products in SKU order, and where the next page starts (None after the last one)."""

    model_config = _FROZEN

    products: tuple[Product, ...]
    next: CatalogPosition | None


class ReservationStatus(StrEnum):
    RESERVED = "RESERVED"
    RELEASED = "RELEASED"


class ReservedLine(ShopModel):
    model_config = _FROZEN

    sku: Sku
    quantity: Annotated[int, Field(gt=0)]  # order lines of one SKU summed: may exceed a line's cap
    unit_price_cents: PriceCents

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class Reservation(ShopModel):
    """An order's reserved stock. A RELEASED reservation with no lines is a tombstone: the
    compensation ran before any reservation existed, and no later ReserveStock may reserve."""

    model_config = _FROZEN

    order_id: OrderId
    status: ReservationStatus
    lines: tuple[ReservedLine, ...]
    total_cents: Annotated[int, Field(ge=0)]
    currency: Currency | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def tombstone(cls, order_id: str, now: datetime) -> Reservation:
        return cls(
            order_id=order_id,
            status=ReservationStatus.RELEASED,
            lines=(),
            total_cents=0,
            currency=None,
            created_at=now,
            updated_at=now,
        )

    def released(self, now: datetime) -> Reservation:
        return self.model_copy(update={"status": ReservationStatus.RELEASED, "updated_at": now})


# ---------------------------------------------------------------- saga


class OrderLine(ShopModel):
    sku: Sku
    quantity: Quantity


class ReserveStockInput(ShopModel):
    """The saga input (other keys of the execution's state are ignored)."""

    orderId: OrderId
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    correlationId: Annotated[str, Field(min_length=1)] | None = None

    @property
    def correlation_id(self) -> str:
        return self.correlationId or self.orderId


class PricedLine(ShopModel):
    """A reserved line at its catalog price: in the saga's `$.reservation` and StockReserved."""

    sku: str
    quantity: int
    unitPriceCents: int

    @classmethod
    def from_line(cls, line: ReservedLine) -> PricedLine:
        return cls(sku=line.sku, quantity=line.quantity, unitPriceCents=line.unit_price_cents)


class ReservationResult(ShopModel):
    """ReserveStock's result, which the saga keeps at `$.reservation`."""

    lines: list[PricedLine]
    totalCents: int
    currency: str

    @classmethod
    def from_reservation(cls, reservation: Reservation) -> ReservationResult:
        if reservation.currency is None:  # only tombstones have none, and they are never returned
            raise ValueError("a reservation without currency has no result")
        return cls(
            lines=[PricedLine.from_line(line) for line in reservation.lines],
            totalCents=reservation.total_cents,
            currency=reservation.currency,
        )


class ReleaseStockInput(ShopModel):
    orderId: OrderId
    correlationId: Annotated[str, Field(min_length=1)] | None = None

    @property
    def correlation_id(self) -> str:
        return self.correlationId or self.orderId


class ReleaseResult(ShopModel):
    orderId: str
    status: Literal["RELEASED"] = "RELEASED"


# ---------------------------------------------------------------- stored items


def product_key(sku: str) -> dict[str, str]:
    return {"pk": f"PRODUCT#{sku}"}


def reservation_key(order_id: str) -> dict[str, str]:
    return {"pk": f"RESERVATION#{order_id}"}


CATALOG_INDEX = "CatalogBySku"  # template.yaml: itemType (HASH) + sku (RANGE), keys only
_CURSOR_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


class CatalogPosition(ShopModel):
    """A key of the CatalogBySku index, i.e. a page's LastEvaluatedKey: the table key and the
    index key of one product. Clients get it as an opaque cursor (base64url of its JSON) and
    only a cursor this model could have issued is accepted back."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    pk: str
    itemType: Literal["PRODUCT"]
    sku: Sku

    @model_validator(mode="after")
    def _the_key_of_that_product(self) -> CatalogPosition:
        if self.pk != product_key(self.sku)["pk"]:
            raise ValueError("pk and sku name different products")
        return self

    @classmethod
    def after(cls, sku: str) -> CatalogPosition:
        return cls(**product_key(sku), itemType="PRODUCT", sku=sku)

    def to_cursor(self) -> str:
        raw = json.dumps(self.model_dump(), separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_cursor(cls, cursor: str) -> CatalogPosition:
        """The position a cursor names; ValueError for anything we did not issue."""
        if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR_ALPHABET.match(cursor):
            raise ValueError("not a base64url cursor")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = cls.model_validate(json.loads(raw))
        if position.to_cursor() != cursor:  # another encoding of it: not one we issued
            raise ValueError("not a cursor this API issued")
        return position


class ProductItem(ShopModel):
    pk: str
    itemType: Literal["PRODUCT"] = "PRODUCT"
    sku: str
    name: str
    priceCents: int
    currency: str
    stock: int
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def from_product(cls, product: Product) -> ProductItem:
        return cls(
            **product_key(product.sku),
            sku=product.sku,
            name=product.name,
            priceCents=product.price_cents,
            currency=product.currency,
            stock=product.stock,
            createdAt=product.created_at,
            updatedAt=product.updated_at,
        )

    def to_product(self) -> Product:
        return Product(
            sku=self.sku,
            name=self.name,
            price_cents=self.priceCents,
            currency=self.currency,
            stock=self.stock,
            created_at=self.createdAt,
            updated_at=self.updatedAt,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ReservedLineItem(ShopModel):
    sku: str
    quantity: int
    unitPriceCents: int


class ReservationItem(ShopModel):
    pk: str
    itemType: Literal["RESERVATION"] = "RESERVATION"
    orderId: str
    status: ReservationStatus
    lines: list[ReservedLineItem]
    totalCents: int
    currency: str | None = None
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def from_reservation(cls, reservation: Reservation) -> ReservationItem:
        return cls(
            **reservation_key(reservation.order_id),
            orderId=reservation.order_id,
            status=reservation.status,
            lines=[
                ReservedLineItem(
                    sku=line.sku, quantity=line.quantity, unitPriceCents=line.unit_price_cents
                )
                for line in reservation.lines
            ],
            totalCents=reservation.total_cents,
            currency=reservation.currency,
            createdAt=reservation.created_at,
            updatedAt=reservation.updated_at,
        )

    def to_reservation(self) -> Reservation:
        return Reservation(
            order_id=self.orderId,
            status=self.status,
            lines=tuple(
                ReservedLine(
                    sku=line.sku, quantity=line.quantity, unit_price_cents=line.unitPriceCents
                )
                for line in self.lines
            ),
            total_cents=self.totalCents,
            currency=self.currency,
            created_at=self.createdAt,
            updated_at=self.updatedAt,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- events (data)

EVENT_SOURCE = "shop.inventory"
PRODUCER = "inventory"


class ProductUpserted(ShopModel):
    sku: str
    name: str
    priceCents: int
    currency: str
    available: int


class StockReserved(ShopModel):
    orderId: str
    lines: list[PricedLine]
    totalCents: int
    currency: str


class ReleasedLine(ShopModel):
    sku: str
    quantity: int


class StockReleased(ShopModel):
    orderId: str
    lines: list[ReleasedLine]
