"""Latency of every API route under a steady concurrent load on localcloud (issue 10, item 2).

    .venv/bin/python -m bench.latency                      (starts localcloud like `make run`)
    .venv/bin/python -m bench.latency --aws-url http://127.0.0.1:4566   (a running localcloud)

Seeds a catalog and customers, warms every route (each function has a warm worker), then
`--clients` clients each loop over the routes a shop's customers use, one request after the
other, for `--seconds`: browse the catalog, look at a product, place an order, read it back,
list their orders, read their profile and the order's details. It reports p50/p95/p99 per
route as the client measures it (localcloud's API on this machine, warm), how many cold
starts still happened while measuring, and POST /orders -> CONFIRMED percentiles (from the
client's POST to the order's CONFIRMED history entry, the service's clock). The localcloud it
starts lifts the per-customer order limit (a few clients stand for many customers). Writes
bench/results/latency.json. A benchmark: it reports, it does not assert.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import (
    SHIPPING_ADDRESS,
    Target,
    confirmed_time,
    http,
    percentile,
    running_target,
    seed,
    write_result,
)
from bench.started import started_localcloud
from tests.support.localcloud_process import ROOT

RESULTS = ROOT / "bench" / "results" / "latency.json"
ORDER_PLACEMENT_LIMIT = 100_000
ROUTES = (
    "GET /products",
    "GET /products/{sku}",
    "POST /orders",
    "GET /orders/{orderId}",
    "GET /orders",
    "GET /customers/me",
    "GET /orders/{orderId}/details",
)


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    placed: list[tuple[str, str, float]] = field(default_factory=list)  # (id, token, posted at)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, route: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.seconds[route].append(seconds)
            if not ok:
                self.errors[route] += 1


@dataclass
class Customer:
    """One customer of the load: visits the shop, one request after the other."""

    target: Target
    token: str
    skus: list[str]
    samples: Samples | None  # None while warming up

    def send(
        self, route: str, method: str, url: str, *, body: Any = None, key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Idempotency-Key": key} if key else None
        started = time.perf_counter()
        status, answer = http(method, url, self.token, body, headers)
        if self.samples is not None:
            self.samples.add(route, time.perf_counter() - started, status < 400)
        return status, answer

    def visit_until(self, until: float, seed_: int) -> None:
        rng = random.Random(seed_)
        api = self.target.api_url
        order_id: str | None = None
        while time.monotonic() < until:
            sku = rng.choice(self.skus)
            self.send("GET /products", "GET", f"{api}/products?limit=20")
            self.send("GET /products/{sku}", "GET", f"{api}/products/{sku}")
            posted_at = time.time()
            body = {
                "items": [{"sku": sku, "quantity": 1}],
                "paymentToken": "tok_visa",
                "shippingAddress": SHIPPING_ADDRESS,
            }
            status, answer = self.send(
                "POST /orders", "POST", f"{api}/orders", body=body, key=uuid.uuid4().hex
            )
            if status == 202:
                order_id = answer["orderId"]
                if self.samples is not None:
                    with self.samples.lock:
                        self.samples.placed.append((order_id, self.token, posted_at))
            if order_id is not None:
                self.send("GET /orders/{orderId}", "GET", f"{api}/orders/{order_id}")
            self.send("GET /orders", "GET", f"{api}/orders?limit=10")
            self.send("GET /customers/me", "GET", f"{api}/customers/me")
            if order_id is not None:
                self.send(
                    "GET /orders/{orderId}/details", "GET", f"{api}/orders/{order_id}/details"
                )


def load(
    target: Target, tokens: list[str], skus: list[str], seconds: float, samples: Samples | None
) -> None:
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=Customer(target, token, skus, samples).visit_until, args=(until, n), daemon=True
        )
        for n, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def to_confirmed(target: Target, placed: list[tuple[str, str, float]], limit: float) -> list[float]:
    """POST -> CONFIRMED of each placed order (waiting, up to `limit` s, for the last ones)."""
    deadline = time.monotonic() + limit
    pending = list(placed)
    found: list[float] = []
    while pending and time.monotonic() < deadline:
        still = []
        for order_id, token, posted_at in pending:
            status, answer = http("GET", f"{target.api_url}/orders/{order_id}", token)
            confirmed = confirmed_time(answer) if status == 200 else None
            if confirmed is not None:
                found.append(confirmed - posted_at)
            elif status == 200 and answer["status"] == "PENDING":
                still.append((order_id, token, posted_at))
        pending = still
        if pending:
            time.sleep(1)
    return found


def stats(values: list[float]) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "n": len(values),
        "p50": ms(percentile(values, 50)),
        "p95": ms(percentile(values, 95)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values)) if values else None,
    }


def run(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    skus, tokens = seed(target, args.products, args.clients)
    load(target, tokens, skus, args.warm, None)  # every route's function warm, at this load
    before = target.status()["functions"]
    load_before = os.getloadavg()
    samples = Samples()
    started = time.monotonic()
    load(target, tokens, skus, args.seconds, samples)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    after = target.status()["functions"]
    cold = {
        name: after[name]["cold_starts"] - before.get(name, {}).get("cold_starts", 0)
        for name in after
        if after[name]["cold_starts"] - before.get(name, {}).get("cold_starts", 0)
    }
    confirmed = to_confirmed(target, samples.placed, args.confirm_limit)
    requests = sum(len(v) for v in samples.seconds.values())
    return {
        "command": " ".join([".venv/bin/python -m bench.latency", *sys.argv[1:]]),
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requestsPerSecond": round(requests / elapsed, 1),
        "routesMs": {
            route: {**stats(samples.seconds[route]), "errors": samples.errors[route]}
            for route in ROUTES
        },
        "postToConfirmedMs": stats(confirmed),
        "ordersPlaced": len(samples.placed),
        "coldStartsWhileMeasuring": cold,
        "loadAverage": {"before": load_before, "after": load_after},
        "cpus": os.cpu_count(),
    }


def report(result: dict[str, Any]) -> None:
    print(
        f"{result['clients']} clients for {result['seconds']} s: {result['requests']} requests "
        f"({result['requestsPerSecond']}/s), cold starts while measuring: "
        f"{result['coldStartsWhileMeasuring'] or 'none'}"
    )
    print(f"  {'route':32} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for route, row in result["routesMs"].items():
        print(
            f"  {route:32} {row['n']:5} {row['p50']!s:>8} {row['p95']!s:>8} {row['p99']!s:>8} "
            f"{row['errors']:6}"
        )
    c = result["postToConfirmedMs"]
    print(f"  POST -> CONFIRMED: n {c['n']} p50 {c['p50']} p95 {c['p95']} p99 {c['p99']} ms")
    print(f"  load average {result['loadAverage']} ({result['cpus']} cpus)")


@contextmanager
def target_for(args: argparse.Namespace) -> Iterator[Target]:
    if args.aws_url:
        yield running_target(args.aws_url)
        return
    # A few customers stand for many here: each places an order every second or so, far past
    # the per-customer limit (OrderPlacementLimit, 10 a minute), which the load is not about.
    with started_localcloud({"OrderPlacementLimit": str(ORDER_PLACEMENT_LIMIT)}) as target:
        yield target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws-url", help="a running localcloud's AWS endpoint (else start one)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent customers")
    parser.add_argument("--seconds", type=float, default=60, help="measured load")
    parser.add_argument("--warm", type=float, default=15, help="unmeasured load before")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--confirm-limit", type=float, default=120)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with target_for(args) as target:
        result = run(target, args)
    report(result)
    write_result(args.output, result)


if __name__ == "__main__":
    main()
