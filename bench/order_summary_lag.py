"""The read model's lag on localcloud: from an order event written to the event store to the change
being visible in GET /v1/orders.

    .venv/bin/python -m bench.order_summary_lag [--orders 20]

For each order it places (POST /v1/orders, then the saga confirms it) it polls GET /v1/orders
back to back and takes, for OrderPlaced and for OrderConfirmed, the time the list first showed
the change minus the event's `occurredAt` in OrdersTable (the moment the handler wrote it; one
clock, this machine's). The path measured is the whole pipeline: orders stream -> outbox relay
-> EventBridge -> OrderSummariesRule -> OrderSummariesQueue -> project_order_summary ->
OrderSummariesTable -> list_orders. One GET takes a few milliseconds, so each number is at most
that much late. The first order meets cold functions and is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.run import http
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process

SKU = "LAG-001"
CUSTOMER = {
    "name": "Lag Probe",
    "email": "lag-user@example.com",
    "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "DE"},
}


def event_time(cloud: RunningLocalCloud, order_id: str, version: int) -> float | None:
    item = cloud.aws.dynamodb.get_item(
        TableName="OrdersTable",
        Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"V#{version:06d}"}},
        ConsistentRead=True,
    ).get("Item")
    return datetime.fromisoformat(item["occurredAt"]["S"]).timestamp() if item else None


def listed_status(cloud: RunningLocalCloud, token: str, order_id: str) -> str | None:
    status, body = http("GET", f"{cloud.api_url}/orders?limit=5", token)
    assert status == 200, body
    return next((o["status"] for o in body["items"] if o["orderId"] == order_id), None)


def one_order(cloud: RunningLocalCloud, token: str) -> tuple[float, float]:
    """(lag of OrderPlaced, lag of OrderConfirmed) in seconds, for one new order."""
    status, placed = http(
        "POST",
        f"{cloud.api_url}/orders",
        token,
        {"items": [{"sku": SKU, "quantity": 1}], "paymentToken": "tok_visa"},
    )
    assert status == 202, placed
    order_id = placed["orderId"]
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while not seen.keys() - {"PENDING"}:
        assert time.monotonic() < deadline, f"order {order_id} still PENDING in the list"
        listed = listed_status(cloud, token, order_id)
        now = time.time()
        if listed is not None:
            seen.setdefault("PENDING", now)  # listed at all: OrderPlaced was projected
            seen.setdefault(listed, now)
    assert "CONFIRMED" in seen, f"order {order_id} ended {seen}"
    placed_at, confirmed_at = event_time(cloud, order_id, 1), event_time(cloud, order_id, 2)
    assert placed_at is not None
    assert confirmed_at is not None
    return seen["PENDING"] - placed_at, seen["CONFIRMED"] - confirmed_at


def summary(name: str, lags: list[float]) -> str:
    ms = sorted(lag * 1000 for lag in lags)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name}: median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
        f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, localcloud_process(Path(tmp)) as cloud:
        admin, user = cloud.token("lag-admin", admin=True), cloud.token("lag-user")
        product: dict[str, Any] = {
            "name": "Lag probe",
            "priceCents": 100,
            "currency": "EUR",
            "stock": 10_000,
        }
        assert http("PUT", f"{cloud.api_url}/products/{SKU}", admin, product)[0] in (200, 201)
        status, body = http("POST", f"{cloud.api_url}/customers", user, CUSTOMER)
        assert status == 201, body  # shipping needs the customer's address
        first = one_order(cloud, user)
        warm = [one_order(cloud, user) for _ in range(args.orders)]
    print(
        "event written -> visible in GET /v1/orders (localcloud), first order (cold): "
        f"OrderPlaced {first[0] * 1000:.0f} ms, OrderConfirmed {first[1] * 1000:.0f} ms"
    )
    print(summary("  OrderPlaced, warm", [lag for lag, _ in warm]))
    print(summary("  OrderConfirmed, warm", [lag for _, lag in warm]))


if __name__ == "__main__":
    main()
