"""Inventory business logic: plain functions on models, the repository passed in.

Idempotency of the saga steps, keyed on the order id:

- ReserveStock returns an existing RESERVED reservation as it is (also when a concurrent
  duplicate created it first), so stock changes once per order.
- ReleaseStock releases a RESERVED reservation once; an already RELEASED one is left alone.
  When there is no reservation at all (ReserveStock failed, timed out before running, or
  is still in flight), it writes a RELEASED tombstone, so a late duplicate ReserveStock
  can't reserve stock that no compensation would ever give back: ReserveStock raises
  `ReservationReleased` for a RELEASED reservation, tombstone or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inventory.errors import (
    ConcurrentModification,
    InvalidCursor,
    MixedCurrencies,
    ProductChanged,
    ProductNotFound,
    ReservationExists,
    ReservationNotReserved,
    ReservationReleased,
)
from inventory.models import (
    EVENT_SOURCE,
    PRODUCER,
    CatalogPosition,
    PricedLine,
    Product,
    ProductUpserted,
    ReleasedLine,
    ReleaseStockInput,
    Reservation,
    ReservationStatus,
    ReservedLine,
    ReserveStockInput,
    StockReleased,
    StockReserved,
)
from shop_shared.events import new_event

if TYPE_CHECKING:
    from datetime import datetime

    from inventory.models import ProductPage, UpsertProductRequest
    from inventory.repository import CatalogReader, InventoryRepository
    from shop_shared.events import DomainEvent

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class UpsertOutcome:
    product: Product
    created: bool


def get_product(sku: str, *, repository: InventoryRepository) -> Product:
    product = repository.get_product(sku)
    if product is None:
        raise ProductNotFound(f"No product with SKU {sku}", sku=sku)
    return product


def list_products(limit: int, cursor: str | None, *, catalog: CatalogReader) -> ProductPage:
    """One page of the catalog in SKU order; `cursor` is a page's nextCursor (InvalidCursor if
    it is not one we issued)."""
    after = None
    if cursor is not None:
        try:
            after = CatalogPosition.from_cursor(cursor)
        except ValueError as error:
            raise InvalidCursor(
                "Invalid cursor: pass the nextCursor of the previous page as it is"
            ) from error
    return catalog.list_products(limit=limit, after=after)


def upsert_product(
    sku: str,
    request: UpsertProductRequest,
    *,
    repository: InventoryRepository,
    correlation_id: str,
    now: datetime,
) -> UpsertOutcome:
    """Create or replace the product and set its available stock, with a ProductUpserted event."""
    for _ in range(MAX_ATTEMPTS):
        existing = repository.get_product(sku)
        product = Product(
            sku=sku,
            name=request.name,
            price_cents=request.priceCents,
            currency=request.currency,
            stock=request.stock,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        event = new_event(
            source=EVENT_SOURCE,
            detail_type="ProductUpserted",
            data=ProductUpserted(
                sku=product.sku,
                name=product.name,
                priceCents=product.price_cents,
                currency=product.currency,
                available=product.stock,
            ),
            correlation_id=correlation_id,
            producer=PRODUCER,
            occurred_at=now,
        )
        try:
            repository.save_product(product, event, expect_new=existing is None)
        except ProductChanged:
            continue  # created by a concurrent request since we read it: decide again
        return UpsertOutcome(product=product, created=existing is None)
    raise ConcurrentModification(f"Product {sku} is being changed concurrently", sku=sku)


def merge_lines(request: ReserveStockInput) -> dict[str, int]:
    """Quantity per SKU, in order of first appearance (a transaction touches an item once)."""
    quantities: dict[str, int] = {}
    for line in request.items:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    return quantities


def _reserved_as_is(reservation: Reservation) -> Reservation:
    if reservation.status is ReservationStatus.RELEASED:
        raise ReservationReleased(
            f"Order {reservation.order_id} was already released; its stock can't be reserved again",
            order_id=reservation.order_id,
        )
    return reservation


def reserve_stock(
    request: ReserveStockInput, *, repository: InventoryRepository, now: datetime
) -> Reservation:
    """Reserve every line at catalog prices, all or nothing; idempotent on the order id.

    Raises OutOfStock (from the repository's conditional write), ProductNotFound,
    MixedCurrencies, or ReservationReleased for a late duplicate.

    The reservation's write is conditional on the order having none, so the write itself is
    what makes a repeated call change nothing: the reservation is not read before it. When the
    step does not reserve (its write found one, or anything failed on the way), the order's
    reservation is read and, if there is one, answered as it is, as a read before the write
    would have: a retry returns the first reservation (ReservationReleased after a release),
    whatever the catalog or the stock say now.
    """
    try:
        reservation, event = _new_reservation(request, repository=repository, now=now)
        repository.create_reservation(reservation, event)
    except Exception as error:
        # A concurrent duplicate may have won the race, ReleaseStock may have left a tombstone,
        # or this is a retry of a step that reserved already.
        existing = repository.get_reservation(request.orderId)
        if existing is not None:
            return _reserved_as_is(existing)
        if isinstance(error, ReservationExists):
            raise ConcurrentModification(
                f"Reservation of order {request.orderId} vanished", order_id=request.orderId
            ) from None
        raise
    return reservation


def _new_reservation(
    request: ReserveStockInput, *, repository: InventoryRepository, now: datetime
) -> tuple[Reservation, DomainEvent[StockReserved]]:
    """The order's reservation at catalog prices and its StockReserved event, not yet written."""
    quantities = merge_lines(request)
    products = repository.get_products(list(quantities))
    missing = [sku for sku in quantities if sku not in products]
    if missing:
        raise ProductNotFound(f"Unknown SKU {', '.join(missing)}", skus=missing)
    currencies = sorted({products[sku].currency for sku in quantities})
    if len(currencies) > 1:
        raise MixedCurrencies(
            f"The order's products are priced in {', '.join(currencies)}; one currency is needed",
            currencies=currencies,
        )

    lines = tuple(
        ReservedLine(sku=sku, quantity=quantity, unit_price_cents=products[sku].price_cents)
        for sku, quantity in quantities.items()
    )
    reservation = Reservation(
        order_id=request.orderId,
        status=ReservationStatus.RESERVED,
        lines=lines,
        total_cents=sum(line.total_cents for line in lines),
        currency=currencies[0],
        created_at=now,
        updated_at=now,
    )
    event = new_event(
        source=EVENT_SOURCE,
        detail_type="StockReserved",
        data=StockReserved(
            orderId=reservation.order_id,
            lines=[PricedLine.from_line(line) for line in reservation.lines],
            totalCents=reservation.total_cents,
            currency=currencies[0],
        ),
        correlation_id=request.correlation_id,
        producer=PRODUCER,
        occurred_at=now,
    )
    return reservation, event


def release_stock(
    request: ReleaseStockInput, *, repository: InventoryRepository, now: datetime
) -> Reservation:
    """Give an order's reserved stock back once; leaves a tombstone when nothing was reserved."""
    for _ in range(MAX_ATTEMPTS):
        current = repository.get_reservation(request.orderId)
        if current is None:
            tombstone = Reservation.tombstone(request.orderId, now)
            try:
                repository.create_tombstone(tombstone)
            except ReservationExists:
                continue  # ReserveStock got there first: release what it reserved
            return tombstone
        if current.status is ReservationStatus.RELEASED:
            return current
        released = current.released(now)
        event = new_event(
            source=EVENT_SOURCE,
            detail_type="StockReleased",
            data=StockReleased(
                orderId=released.order_id,
                lines=[
                    ReleasedLine(sku=line.sku, quantity=line.quantity) for line in released.lines
                ],
            ),
            correlation_id=request.correlation_id,
            producer=PRODUCER,
            occurred_at=now,
        )
        try:
            repository.release_reservation(released, event)
        except ReservationNotReserved:
            continue  # a concurrent release won: read what it left
        return released
    raise ConcurrentModification(
        f"Reservation of order {request.orderId} is being changed concurrently",
        order_id=request.orderId,
    )
