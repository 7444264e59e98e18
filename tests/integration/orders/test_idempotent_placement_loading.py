"""IdempotentOrderPlacement loads Powertools' idempotency utility on the first keyed request:
an unkeyed placement never loads it, a keyed one is placed once as before (moto), and the
invocation's context registered before that first keyed request still reaches the config."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from orders.idempotency import IdempotentOrderPlacement
from orders.models import OrderAccepted, PlaceOrder
from tests.support.lambda_context import FakeLambdaContext

TABLE = "OrdersIdempotencyTable"
IDEMPOTENCY_MODULE = "aws_lambda_powertools.utilities.idempotency"


def command(key: str | None) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "customerId": "customer-1",
            "idempotencyKey": key,
            "correlationId": "c-1",
            "request": {
                "items": [{"sku": "KB-001", "quantity": 1}],
                "paymentToken": "tok_visa",
            },
        }
    )


class Counter:
    def __init__(self) -> None:
        self.placed: list[PlaceOrder] = []

    def __call__(self, placed: PlaceOrder) -> OrderAccepted:
        self.placed.append(placed)
        return OrderAccepted(orderId=order_id(len(self.placed)))


def order_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def loads_idempotency(script: str) -> bool:
    probe = f"import sys\n{script}\nprint({IDEMPOTENCY_MODULE!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": ":".join(sys.path), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip() == "True"


def test_making_it_and_placing_an_unkeyed_order_load_no_idempotency_utility() -> None:
    assert not loads_idempotency(
        "from tests.integration.orders.test_idempotent_placement_loading import Counter, command\n"
        "from orders.idempotency import IdempotentOrderPlacement\n"
        "place = Counter()\n"
        "placement = IdempotentOrderPlacement(place, 'T')\n"
        "placement.register_lambda_context(object())\n"
        "placement(command(None))\n"
        "assert len(place.placed) == 1"
    )


@pytest.fixture
def table(make_table: Any) -> Any:
    return make_table(TABLE)


def test_a_keyed_order_is_placed_once_and_replayed(table: Any) -> None:
    # Given a placement whose invocation context was registered before any keyed request
    place = Counter()
    placement = IdempotentOrderPlacement(place, TABLE)
    context = FakeLambdaContext()
    placement.register_lambda_context(context)

    # When the same keyed command comes twice, and an unkeyed one once
    first = placement(command("key-1"))
    replay = placement(command("key-1"))
    unkeyed = placement(command(None))

    # Then the keyed order was placed once and replayed; the context reached the config
    assert first == replay == OrderAccepted(orderId=order_id(1))
    assert unkeyed == OrderAccepted(orderId=order_id(2))
    assert len(place.placed) == 2
    assert placement._keyed is not None
    assert placement._keyed[0].lambda_context is context
    records = table.scan()["Items"]
    assert len(records) == 1
    assert records[0]["status"] == "COMPLETED"
