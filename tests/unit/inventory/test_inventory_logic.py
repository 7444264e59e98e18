"""inventory.logic on a small in-memory repository that keeps the DynamoDB conditions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inventory import logic
from inventory.errors import (
    ConcurrentModification,
    MixedCurrencies,
    OutOfStock,
    ProductChanged,
    ProductNotFound,
    ReservationExists,
    ReservationNotReserved,
    ReservationReleased,
)
from inventory.models import (
    Product,
    ProductResponse,
    ReleaseStockInput,
    Reservation,
    ReservationResult,
    ReservationStatus,
    ReserveStockInput,
    UpsertProductRequest,
)
from inventory.repository import InventoryRepository
from shop_shared.events import DomainEvent

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=3)


class FakeInventoryRepository(InventoryRepository):
    """Dicts instead of a table, with the same all-or-nothing conditions. `before_write` runs
    once before the next write, to play a concurrent writer."""

    def __init__(self) -> None:
        self.products: dict[str, Product] = {}
        self.reservations: dict[str, Reservation] = {}
        self.events: list[DomainEvent[Any]] = []
        self.before_write: Callable[[], None] | None = None

    def _concurrent_writer(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook:
            hook()

    def get_product(self, sku: str) -> Product | None:
        return self.products.get(sku)

    def get_products(self, skus: Sequence[str]) -> dict[str, Product]:
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def save_product(self, product: Product, event: DomainEvent[Any], *, expect_new: bool) -> None:
        self._concurrent_writer()
        if (product.sku in self.products) == expect_new:
            raise ProductChanged("changed")
        self.products[product.sku] = product
        self.events.append(event)

    def get_reservation(self, order_id: str) -> Reservation | None:
        return self.reservations.get(order_id)

    def create_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        self._concurrent_writer()
        if reservation.order_id in self.reservations:
            raise ReservationExists("exists")
        for line in reservation.lines:
            product = self.products.get(line.sku)
            if product is None or product.stock < line.quantity:
                raise OutOfStock(f"Not enough stock of {line.sku}", sku=line.sku)
        for line in reservation.lines:
            self._add_stock(line.sku, -line.quantity)
        self.reservations[reservation.order_id] = reservation
        self.events.append(event)

    def create_tombstone(self, reservation: Reservation) -> None:
        self._concurrent_writer()
        if reservation.order_id in self.reservations:
            raise ReservationExists("exists")
        self.reservations[reservation.order_id] = reservation

    def release_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        self._concurrent_writer()
        current = self.reservations.get(reservation.order_id)
        if current is None or current.status is not ReservationStatus.RESERVED:
            raise ReservationNotReserved("not reserved")
        for line in reservation.lines:
            self._add_stock(line.sku, line.quantity)
        self.reservations[reservation.order_id] = reservation
        self.events.append(event)

    def _add_stock(self, sku: str, quantity: int) -> None:
        product = self.products[sku]
        self.products[sku] = product.model_copy(update={"stock": product.stock + quantity})

    # for the tests
    def seed(self, sku: str, stock: int, price_cents: int = 1000, currency: str = "EUR") -> None:
        self.products[sku] = Product(
            sku=sku,
            name=f"Product {sku}",
            price_cents=price_cents,
            currency=currency,
            stock=stock,
            created_at=EARLIER,
            updated_at=EARLIER,
        )

    def stock(self) -> dict[str, int]:
        return {sku: product.stock for sku, product in self.products.items()}

    def event_log(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.detail_type, e.detail.data.model_dump()) for e in self.events]


@pytest.fixture
def repo() -> FakeInventoryRepository:
    return FakeInventoryRepository()


@pytest.fixture
def catalog(repo: FakeInventoryRepository) -> FakeInventoryRepository:
    repo.seed("ESPRESSO-250G", 10, price_cents=1290)
    repo.seed("MUG-CERAMIC", 3, price_cents=890)
    return repo


def reserve_request(*items: tuple[str, int], order_id: str = "ORDER-1") -> ReserveStockInput:
    return ReserveStockInput.model_validate(
        {
            "orderId": order_id,
            "items": [{"sku": sku, "quantity": quantity} for sku, quantity in items],
            "correlationId": "corr-1",
        }
    )


def release_request(order_id: str = "ORDER-1") -> ReleaseStockInput:
    return ReleaseStockInput(orderId=order_id, correlationId="corr-2")


REQUEST = UpsertProductRequest(name="Espresso", priceCents=1290, currency="EUR", stock=40)


# ---------------------------------------------------------------- upsert / get


def test_upsert_creates_a_product_with_its_event(repo: FakeInventoryRepository) -> None:
    outcome = logic.upsert_product(
        "ESPRESSO-250G", REQUEST, repository=repo, correlation_id="req-1", now=NOW
    )

    assert outcome.created
    assert outcome.product == Product(
        sku="ESPRESSO-250G",
        name="Espresso",
        price_cents=1290,
        currency="EUR",
        stock=40,
        created_at=NOW,
        updated_at=NOW,
    )
    assert repo.products == {"ESPRESSO-250G": outcome.product}
    assert repo.event_log() == [
        (
            "ProductUpserted",
            {
                "sku": "ESPRESSO-250G",
                "name": "Espresso",
                "priceCents": 1290,
                "currency": "EUR",
                "available": 40,
            },
        )
    ]
    metadata = repo.events[0].detail.metadata
    assert (metadata.correlationId, metadata.producer, metadata.occurredAt) == (
        "req-1",
        "inventory",
        NOW,
    )
    assert repo.events[0].source == "shop.inventory"


def test_upsert_replaces_an_existing_product_and_keeps_its_creation_time(
    catalog: FakeInventoryRepository,
) -> None:
    outcome = logic.upsert_product(
        "MUG-CERAMIC", REQUEST, repository=catalog, correlation_id="req-1", now=NOW
    )

    assert not outcome.created
    assert catalog.products["MUG-CERAMIC"].created_at == EARLIER
    assert catalog.products["MUG-CERAMIC"].updated_at == NOW
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 40}
    assert [detail_type for detail_type, _ in catalog.event_log()] == ["ProductUpserted"]


def test_upsert_racing_a_concurrent_create_becomes_an_update(
    repo: FakeInventoryRepository,
) -> None:
    # Given another request creates the product between our read and our write
    repo.before_write = lambda: repo.seed("ESPRESSO-250G", 5)

    outcome = logic.upsert_product(
        "ESPRESSO-250G", REQUEST, repository=repo, correlation_id="req-1", now=NOW
    )

    assert not outcome.created
    assert repo.products["ESPRESSO-250G"].created_at == EARLIER
    assert repo.stock() == {"ESPRESSO-250G": 40}
    assert len(repo.events) == 1


def test_get_product_of_an_unknown_sku_is_not_found(repo: FakeInventoryRepository) -> None:
    with pytest.raises(ProductNotFound, match="NOPE-1") as raised:
        logic.get_product("NOPE-1", repository=repo)
    assert (raised.value.http_status, raised.value.code) == (404, "NOT_FOUND")


def test_the_api_shows_stock_as_available(catalog: FakeInventoryRepository) -> None:
    product = logic.get_product("MUG-CERAMIC", repository=catalog)

    assert ProductResponse.from_product(product).model_dump() == {
        "sku": "MUG-CERAMIC",
        "name": "Product MUG-CERAMIC",
        "priceCents": 890,
        "currency": "EUR",
        "available": 3,
    }


# ---------------------------------------------------------------- reserve


def test_reserve_prices_every_line_from_the_catalog(catalog: FakeInventoryRepository) -> None:
    reservation = logic.reserve_stock(
        reserve_request(("ESPRESSO-250G", 2), ("MUG-CERAMIC", 1), ("ESPRESSO-250G", 1)),
        repository=catalog,
        now=NOW,
    )

    result = ReservationResult.from_reservation(reservation).model_dump()
    lines = [
        {"sku": "ESPRESSO-250G", "quantity": 3, "unitPriceCents": 1290},
        {"sku": "MUG-CERAMIC", "quantity": 1, "unitPriceCents": 890},
    ]
    assert result == {"lines": lines, "totalCents": 4760, "currency": "EUR"}
    assert catalog.stock() == {"ESPRESSO-250G": 7, "MUG-CERAMIC": 2}
    assert catalog.reservations["ORDER-1"].status is ReservationStatus.RESERVED
    assert catalog.event_log() == [("StockReserved", {"orderId": "ORDER-1", **result})]
    assert catalog.events[0].detail.metadata.correlationId == "corr-1"


def test_reserve_with_one_short_line_changes_nothing(catalog: FakeInventoryRepository) -> None:
    with pytest.raises(OutOfStock, match="MUG-CERAMIC") as raised:
        logic.reserve_stock(
            reserve_request(("ESPRESSO-250G", 2), ("MUG-CERAMIC", 4)), repository=catalog, now=NOW
        )

    assert (raised.value.code, raised.value.http_status) == ("OUT_OF_STOCK", 409)
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3}
    assert catalog.reservations == {}
    assert catalog.events == []


def test_reserve_returns_an_existing_reservation_as_it_is(
    catalog: FakeInventoryRepository,
) -> None:
    first = logic.reserve_stock(reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=NOW)
    catalog.seed("MUG-CERAMIC", 3, price_cents=990)  # the price changed since

    again = logic.reserve_stock(
        reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=NOW + timedelta(minutes=1)
    )

    assert again == first
    assert again.lines[0].unit_price_cents == 890
    assert len(catalog.events) == 1


def test_reserve_losing_the_race_to_a_twin_returns_the_twins_reservation(
    catalog: FakeInventoryRepository,
) -> None:
    twin: list[Reservation] = []

    def twin_reserves() -> None:
        twin.append(
            logic.reserve_stock(
                reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=EARLIER
            )
        )

    catalog.before_write = twin_reserves

    reservation = logic.reserve_stock(
        reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=NOW
    )

    assert reservation == twin[0]
    assert catalog.stock()["MUG-CERAMIC"] == 2
    assert len(catalog.events) == 1


@pytest.mark.parametrize("tombstone", [True, False])
def test_reserve_after_release_raises_reservation_released(
    catalog: FakeInventoryRepository, tombstone: bool
) -> None:
    if not tombstone:
        logic.reserve_stock(reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=NOW)
    logic.release_stock(release_request(), repository=catalog, now=NOW)
    events_before = len(catalog.events)

    with pytest.raises(ReservationReleased, match="ORDER-1"):
        logic.reserve_stock(reserve_request(("MUG-CERAMIC", 1)), repository=catalog, now=NOW)

    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3}
    assert len(catalog.events) == events_before


def test_reserve_an_unknown_sku_changes_nothing(catalog: FakeInventoryRepository) -> None:
    with pytest.raises(ProductNotFound, match="NOPE-1"):
        logic.reserve_stock(
            reserve_request(("MUG-CERAMIC", 1), ("NOPE-1", 1)), repository=catalog, now=NOW
        )

    assert catalog.reservations == {}
    assert catalog.events == []


def test_reserve_products_in_two_currencies_changes_nothing(
    catalog: FakeInventoryRepository,
) -> None:
    catalog.seed("TEA-USA", 5, currency="USD")

    with pytest.raises(MixedCurrencies):
        logic.reserve_stock(
            reserve_request(("MUG-CERAMIC", 1), ("TEA-USA", 1)), repository=catalog, now=NOW
        )

    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3, "TEA-USA": 5}
    assert catalog.events == []


# ---------------------------------------------------------------- release


def test_release_gives_the_stock_back_with_an_event(catalog: FakeInventoryRepository) -> None:
    logic.reserve_stock(
        reserve_request(("ESPRESSO-250G", 2), ("MUG-CERAMIC", 1)), repository=catalog, now=NOW
    )

    released = logic.release_stock(release_request(), repository=catalog, now=NOW)

    assert released.status is ReservationStatus.RELEASED
    assert catalog.reservations["ORDER-1"] == released
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3}
    assert catalog.event_log()[-1] == (
        "StockReleased",
        {
            "orderId": "ORDER-1",
            "lines": [
                {"sku": "ESPRESSO-250G", "quantity": 2},
                {"sku": "MUG-CERAMIC", "quantity": 1},
            ],
        },
    )
    assert catalog.events[-1].detail.metadata.correlationId == "corr-2"


def test_release_twice_changes_nothing_the_second_time(catalog: FakeInventoryRepository) -> None:
    logic.reserve_stock(reserve_request(("MUG-CERAMIC", 2)), repository=catalog, now=NOW)
    first = logic.release_stock(release_request(), repository=catalog, now=NOW)

    second = logic.release_stock(
        release_request(), repository=catalog, now=NOW + timedelta(minutes=1)
    )

    assert second == first
    assert catalog.stock()["MUG-CERAMIC"] == 3
    assert [detail_type for detail_type, _ in catalog.event_log()] == [
        "StockReserved",
        "StockReleased",
    ]


def test_release_without_a_reservation_leaves_a_tombstone(
    catalog: FakeInventoryRepository,
) -> None:
    released = logic.release_stock(release_request(), repository=catalog, now=NOW)

    assert released == Reservation.tombstone("ORDER-1", NOW)
    assert catalog.reservations == {"ORDER-1": released}
    assert catalog.stock() == {"ESPRESSO-250G": 10, "MUG-CERAMIC": 3}
    assert catalog.events == []


def test_release_racing_a_late_reserve_releases_what_it_reserved(
    catalog: FakeInventoryRepository,
) -> None:
    # Given ReserveStock commits between our "no reservation" read and the tombstone's write
    catalog.before_write = lambda: logic.reserve_stock(
        reserve_request(("MUG-CERAMIC", 2)), repository=catalog, now=NOW
    )

    released = logic.release_stock(release_request(), repository=catalog, now=NOW)

    assert released.status is ReservationStatus.RELEASED
    assert released.lines[0].quantity == 2
    assert catalog.stock()["MUG-CERAMIC"] == 3
    assert [detail_type for detail_type, _ in catalog.event_log()] == [
        "StockReserved",
        "StockReleased",
    ]


def test_release_that_never_stops_colliding_is_transient(
    catalog: FakeInventoryRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    logic.reserve_stock(reserve_request(("MUG-CERAMIC", 2)), repository=catalog, now=NOW)

    def always_collides(reservation: Reservation, event: DomainEvent[Any]) -> None:
        raise ReservationNotReserved("collided")

    monkeypatch.setattr(catalog, "release_reservation", always_collides)

    with pytest.raises(ConcurrentModification) as raised:
        logic.release_stock(release_request(), repository=catalog, now=NOW)
    assert raised.value.http_status == 503
    assert catalog.stock()["MUG-CERAMIC"] == 1
