"""The soak of issue 9: many orders under injected faults, then every invariant checked.

    make soak                 # 1,000 orders (N=200 for fewer), localcloud started for it
    .venv/bin/python -m bench.soak --orders 200 --aws-url http://127.0.0.1:4566   # a running one

Seeds a catalog (ample stock, plus a few scarce SKUs that run out) and customers (a few of
whom never register), turns on the fault profile (bench/faults/soak.json by default: AWS API
errors and latency, duplicated deliveries, Lambda workers killed or timed out, throttles, a
slow, failing and forgetful payment provider), then places the orders from many threads with
a mix of tokens (declined, unavailable, refunds that fail, lost answers) and shipping countries
(AQ is not served), cancels some of the confirmed ones, and follows every order to a final
status. The faults are then removed, and the invariant checker (ops.invariants) judges the
whole run once nothing is in flight. It prints and writes (bench/results/soak.json) orders/s,
POST-to-final p50/p95/p99, the end statuses, the faults injected by kind and each
invariant's result. A benchmark: it reports, it does not assert (tests/e2e/test_soak.py
runs a reduced soak and asserts the invariants only).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import (
    AMPLE_STOCK,
    SHIPPING_ADDRESS,
    Order,
    Target,
    follow,
    percentile,
    place_and_follow,
    put_product,
    register_customer,
    running_target,
    send,
    write_result,
)
from ops.deployment import discover
from ops.invariants import CheckOptions, check_when_settled
from tests.support.localcloud_process import ROOT, localcloud_process
from tests.support.shop import ROOMY_CLIENT_LIMITS  # one IP, many orders per customer

RESULTS = ROOT / "bench" / "results" / "soak.json"
FAULTS = ROOT / "bench" / "faults" / "soak.json"
# Payment token -> weight. Every unavailable answer and lost charge answer counts against the
# provider's circuit breaker, now rate-based (>= 50% of >= 20 calls in 60 s open it for 30 s);
# under the count-based breaker it replaced (5 failures in 60 s) a heavier mix kept it open and
# rejected most orders PAYMENT_PROVIDER_UNAVAILABLE (seen: 430 of 1,000 with 4% lost answers
# and 1% unavailable; 415 of 1,000 with this mix).
TOKENS = {
    "tok_visa": 88,
    "tok_declined": 5,
    "tok_unavailable": 0.5,
    "tok_refund_fails": 3,
    "tok_lost_charge_answer": 1,
    "tok_lost_refund_answer": 2.5,
}
COUNTRIES = {"DE": 90.0, "FR": 5.0, "AQ": 5.0}  # AQ: the shipping service does not serve it
SCARCE_STOCK = 40  # the scarce SKU runs out during a long soak: OUT_OF_STOCK rejections


@dataclass(frozen=True)
class SoakOptions:
    orders: int = 1000
    threads: int = 16
    customers: int = 40
    unregistered: int = 3  # customers who order without registering: no email is owed
    products: int = 20
    scarce_products: int = 1
    cancel_fraction: float = 0.1
    seed: int = 9
    faults: Path = FAULTS
    deadline_seconds: float = 1800
    settle_seconds: float = 300


def run(target: Target, options: SoakOptions) -> dict[str, Any]:
    rng = random.Random(options.seed)
    baseline, skus, tokens = _seed(target, options)
    orders = [_order(n, rng, skus, tokens) for n in range(options.orders)]
    faults = json.loads(options.faults.read_text())
    _faults(target, "POST", faults)

    started = time.time()
    deadline = time.monotonic() + options.deadline_seconds
    get_latencies = place_and_follow(
        target, orders, threads=options.threads, deadline=deadline, pollers=2, interval=0.25
    )
    first_final = {o.index: o.status for o in orders}
    cancelled = _cancel_some(
        target, orders, rng, options, deadline=deadline, get_latencies=get_latencies
    )
    finished = max((o.final_seen_at for o in orders if o.final_seen_at), default=time.time())

    injected = _faults(target, "GET")["injected"]
    _faults(target, "DELETE")  # the storm is over: the checker reads a calm shop
    check_started = time.monotonic()
    report = check_when_settled(
        discover(target.aws_url),
        options=CheckOptions(baseline=baseline, bound_seconds=options.deadline_seconds),
        wait_seconds=options.settle_seconds,
    )
    check_seconds = time.monotonic() - check_started
    to_final = [o.final_seen_at - o.posted_at for o in orders if o.final_seen_at]
    elapsed = finished - started
    statuses = Counter(o.status or ("POST failed" if o.post_error else "not final") for o in orders)
    return {
        "orders": options.orders,
        "threads": options.threads,
        "elapsed_seconds": round(elapsed, 1),
        "check_seconds": round(check_seconds, 1),  # waiting for a settled shop, then judging
        "orders_per_second": round(len(to_final) / elapsed, 2) if elapsed else None,
        "post_to_final_seconds": {f"p{p}": _rounded(percentile(to_final, p)) for p in (50, 95, 99)},
        "end_statuses": dict(statuses),
        "first_final_statuses": dict(Counter(s or "not final" for s in first_final.values())),
        "reasons": dict(Counter(f"{o.status}: {o.reason}" for o in orders if o.reason)),
        "cancellations_requested": cancelled,
        "post_errors": [o.post_error for o in orders if o.post_error][:10],
        "faults_injected": injected,
        "fault_profile": str(options.faults.relative_to(ROOT))
        if options.faults.is_relative_to(ROOT)
        else str(options.faults),
        "invariants": {
            name: {
                "held": result.held,
                "violations": [v.model_dump(mode="json") for v in result.violations],
                "notes": result.notes,
            }
            for name, result in report.invariants.items()
        },
        "needs_attention": [a.model_dump(mode="json") for a in report.needsAttention],
        "in_flight_at_check": [f.model_dump(mode="json") for f in report.inFlight],
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def _seed(target: Target, options: SoakOptions) -> tuple[dict[str, int], list[str], list[str]]:
    """(stock baseline per SKU, the SKUs, the customers' tokens: registered ones first)."""
    admin = target.token("soak-admin", admin=True)
    baseline: dict[str, int] = {}
    for n in range(1, options.products + 1):
        sku = f"SOAK-{n:03d}"
        stock = SCARCE_STOCK if n <= options.scarce_products else AMPLE_STOCK
        put_product(target, admin, sku, price_cents=100 * n + 99, stock=stock)
        baseline[sku] = stock
    registered = [
        register_customer(target, f"soak-customer-{n:03d}") for n in range(options.customers)
    ]
    strangers = [target.token(f"soak-stranger-{n:02d}") for n in range(options.unregistered)]
    return baseline, list(baseline), registered + strangers


def _order(n: int, rng: random.Random, skus: list[str], tokens: list[str]) -> Order:
    address = {**SHIPPING_ADDRESS, "country": _weighted(rng, COUNTRIES)}
    return Order(
        index=n,
        token=tokens[n % len(tokens)],
        body={
            "items": [
                {"sku": sku, "quantity": rng.randint(1, 2)}
                for sku in rng.sample(skus, rng.randint(1, 3))
            ],
            "paymentToken": _weighted(rng, TOKENS),
            "shippingAddress": address,
        },
    )


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _cancel_some(
    target: Target,
    orders: list[Order],
    rng: random.Random,
    options: SoakOptions,
    *,
    deadline: float,
    get_latencies: list[float],
) -> int:
    """Cancel a share of the CONFIRMED orders and follow them to their new final status."""
    chosen = [
        o for o in orders if o.status == "CONFIRMED" and rng.random() < options.cancel_fraction
    ]
    for order in chosen:
        status, answer, attempts = send(
            "POST", f"{target.api_url}/orders/{order.order_id}/cancel", order.token
        )
        # A 409 after a failed attempt: that attempt may have been recorded before it failed
        # (a worker killed after its write); the order's status tells.
        if status != 202 and not (status == 409 and attempts > 1):
            raise RuntimeError(f"cancel {order.order_id}: {status} {answer}")
        order.status = None
    placed = threading.Event()
    placed.set()
    follow(target, chosen, deadline, placed, get_latencies, pollers=2, interval=0.25)
    return len(chosen)


def _faults(target: Target, method: str, rules: list[Any] | None = None) -> dict[str, Any]:
    data = None if rules is None else json.dumps(rules).encode()
    request = urllib.request.Request(f"{target.aws_url}/_localcloud/faults", data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def render(result: dict[str, Any]) -> str:
    latency = result["post_to_final_seconds"]
    lines = [
        f"{result['orders']} orders from {result['threads']} threads under "
        f"{result['fault_profile']}: {result['elapsed_seconds']} s",
        f"  orders/s            {result['orders_per_second']}",
        f"  check               {result['check_seconds']} s (waiting for a settled shop, judging)",
        f"  POST -> final       p50 {latency['p50']} s  p95 {latency['p95']} s  "
        f"p99 {latency['p99']} s",
        f"  end statuses        {result['end_statuses']}",
        f"  reasons             {result['reasons']}",
        f"  cancellations       {result['cancellations_requested']}",
        f"  faults injected     {sum(result['faults_injected'].values())}",
    ]
    lines += [f"    {kind:36} {count}" for kind, count in sorted(result["faults_injected"].items())]
    lines.append("  invariants")
    for name, outcome in result["invariants"].items():
        verdict = "held" if outcome["held"] else f"VIOLATED ({len(outcome['violations'])})"
        lines.append(f"    {name:36} {verdict}")
        lines += [f"      {json.dumps(v)}" for v in outcome["violations"][:5]]
        lines += [f"      note: {note}" for note in outcome.get("notes", [])[:3]]
    lines.append(
        f"  needs attention     {len(result['needs_attention'])} orders (cases on OperatorQueue)"
    )
    if result["in_flight_at_check"]:
        lines.append(f"  STILL IN FLIGHT     {len(result['in_flight_at_check'])} orders")
    return "\n".join(lines)


@contextmanager
def target_for(aws_url: str | None) -> Iterator[Target]:
    if aws_url:
        yield running_target(aws_url)
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        localcloud_process(Path(tmp), overrides=ROOMY_CLIENT_LIMITS) as cloud,
    ):
        yield Target(cloud.api_url, cloud.aws_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws-url", help="a running localcloud's AWS endpoint (else start one)")
    parser.add_argument("--orders", type=int, default=SoakOptions.orders)
    parser.add_argument("--threads", type=int, default=SoakOptions.threads)
    parser.add_argument(
        "--faults", type=Path, default=FAULTS, help="the fault profile (JSON rules)"
    )
    parser.add_argument("--seed", type=int, default=SoakOptions.seed)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    options = SoakOptions(
        orders=args.orders, threads=args.threads, faults=args.faults, seed=args.seed
    )
    with target_for(args.aws_url) as target:
        result = run(target, options)
    print(render(result))
    write_result(args.output, result)


if __name__ == "__main__":
    main()
