"""Small in-memory stand-ins for the orders service's dependencies (unit tests only)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from orders.errors import VersionTaken
from orders.logic import place_order
from orders.models import OrderEventItem, PlaceOrder, PlaceOrderRequest, SagaInput
from orders.repository import OrderEventStore, SagaStarter
from tests.support.sealing import FakeSealer

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
CUSTOMER = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"
OTHER_CUSTOMER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
ITEMS = [{"sku": "ESPRESSO-250G", "quantity": 2}, {"sku": "MUG-CERAMIC", "quantity": 1}]


def fake_seal(token: str, order_id: str) -> str:
    """A stand-in for the KMS sealer: reversible only by fake_open, only for the same order."""
    return base64.b64encode(f"sealed:{order_id}:{token}".encode()).decode()


def fake_open(ciphertext: str, order_id: str) -> str:
    prefix = f"sealed:{order_id}:"
    plain = base64.b64decode(ciphertext).decode()
    assert plain.startswith(prefix), "opened for another order"
    return plain.removeprefix(prefix)


class TickingClock:
    """Each reading is one minute after the previous one, starting at T0."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(minutes=1)) -> None:
        self._next = start
        self._step = step

    def __call__(self) -> datetime:
        now, self._next = self._next, self._next + self._step
        return now


class InMemoryOrderEventStore(OrderEventStore):
    """Items keyed by (pk, sk) exactly as DynamoDB would hold them; append is conditional."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.before_append: Callable[[OrderEventItem], None] | None = None

    def history(self, order_id: str) -> list[OrderEventItem]:
        pk = f"ORDER#{order_id}"
        return [
            OrderEventItem.model_validate(item)
            for (item_pk, _), item in sorted(self.items.items())
            if item_pk == pk
        ]

    def append(self, item: OrderEventItem) -> None:
        if self.before_append is not None:
            hook, self.before_append = self.before_append, None
            hook(item)
        key = (item.pk, item.sk)
        if key in self.items:
            raise VersionTaken(item.order_id, item.version)
        self.items[key] = item.to_item()

    def detail_types(self, order_id: str) -> list[str]:
        return [item.detailType for item in self.history(order_id)]


class RecordingSagaStarter(SagaStarter):
    """Starts each execution name once, like Step Functions (a second start is refused)."""

    def __init__(self) -> None:
        self.executions: dict[str, SagaInput] = {}

    def start(self, saga: SagaInput) -> bool:
        if saga.orderId in self.executions:
            return False
        self.executions[saga.orderId] = saga
        return True


def sequential_ids(*ids: str) -> Callable[[], str]:
    remaining = list(ids)
    return lambda: remaining.pop(0)


def placed(store: InMemoryOrderEventStore, clock: TickingClock, **request: Any) -> str:
    """Given: CUSTOMER's order ORDER_ID of ITEMS (tok_visa, and `request`'s fields) placed."""
    body = {"items": ITEMS, "paymentToken": "tok_visa", **request}
    command = PlaceOrder(
        customerId=CUSTOMER,
        idempotencyKey=None,
        correlationId="corr-1",
        request=PlaceOrderRequest.model_validate(body),
    )
    accepted = place_order(
        command,
        store=store,
        clock=clock,
        new_id=sequential_ids(ORDER_ID),
        seal=fake_seal,
        address_sealer=FakeSealer(),
    )
    return accepted.orderId
