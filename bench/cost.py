"""Cost per 1,000 orders (issue 10, item 3): orders run on localcloud, every billable operation
counted there (`/_localcloud/billing`), priced with bench/prices.json (bench/pricing.py).

    .venv/bin/python -m bench.cost                     (--orders 100 per scenario)

For each workflow type (the template's SagaWorkflowType: STANDARD, EXPRESS) it starts
localcloud, seeds a catalog and customers, places a few orders to warm the functions, then
counts two scenarios from zero:

- happy: every order pays with tok_visa and ships to Germany (all CONFIRMED);
- mix: 7% declined cards (tok_declined), 1% provider outage (tok_unavailable: retried, then
  rejected), 2% shipped to a country not served (AQ: shipment fails, payment refunded, stock
  released), and 5% of the orders cancelled by their customer once CONFIRMED.

Each order is followed to its final status, and the count is taken once every consumer is
done (nothing changes for a few seconds). Prices: each configuration (workflow type x
architecture) from the same counts; architecture and memory are modelled on the measured
durations (bench/pricing.py says how). Writes bench/results/cost.json. A benchmark: it
reports, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import (
    SHIPPING_ADDRESS,
    Order,
    Target,
    http,
    place_and_follow,
    seed,
    send,
    write_result,
)
from bench.pricing import (
    SERVICES,
    cost_by_service,
    load_prices,
    monthly_fixed,
    per_thousand_orders,
)
from bench.started import started_localcloud
from localcloud.cloudformation.template import Template
from tests.support.localcloud_process import ROOT
from tests.support.shop import ROOMY_CLIENT_LIMITS

RESULTS = ROOT / "bench" / "results" / "cost.json"
WORKFLOWS = ("STANDARD", "EXPRESS")
ARCHITECTURES = ("arm64", "x86_64")
MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
DEFAULT = ("STANDARD", "arm64")  # the template's defaults
AIM_PER_THOUSAND = 0.05


def billing(target: Target) -> dict[str, Any]:
    with urllib.request.urlopen(f"{target.aws_url}/_localcloud/billing", timeout=60) as answer:
        counts: dict[str, Any] = json.loads(answer.read())
        return counts


def reset_billing(target: Target) -> None:
    request = urllib.request.Request(
        f"{target.aws_url}/_localcloud/billing/reset", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def order_body(n: int, skus: list[str], rng: random.Random, scenario: str) -> dict[str, Any]:
    token, address = "tok_visa", SHIPPING_ADDRESS
    if scenario == "mix":
        slot = n % 100
        if slot < 7:
            token = "tok_declined"
        elif slot == 7:
            token = "tok_unavailable"
        elif slot in (8, 9):
            address = {**SHIPPING_ADDRESS, "country": "AQ", "postalCode": "00000"}
    return {
        "items": [
            {"sku": sku, "quantity": rng.randint(1, 3)}
            for sku in rng.sample(skus, rng.randint(1, 3))
        ],
        "paymentToken": token,
        "shippingAddress": address,
    }


def cancels(scenario: str, n: int) -> bool:
    return scenario == "mix" and n % 20 == 10  # 5%, none of them a failing one


def follow_until(target: Target, orders: list[Order], wanted: set[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        open_orders = [o for o in orders if o.order_id and o.status not in wanted]
        if not open_orders:
            return
        for order in open_orders:
            status, answer = http("GET", f"{target.api_url}/orders/{order.order_id}", order.token)
            if status == 200 and answer["status"] in wanted:
                order.status = answer["status"]
        time.sleep(1.0)


def wait_quiet(target: Target, *, quiet_seconds: float, limit_seconds: float) -> dict[str, Any]:
    """The count, once it has not changed for `quiet_seconds` (consumers done)."""
    deadline = time.monotonic() + limit_seconds
    last = billing(target)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = billing(target)
        if _activity(now) != _activity(last):
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return now
    return last


def _activity(counts: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        sum(f["requests"] for f in counts["lambda"].values()),
        counts["sqs"]["requests"],
        counts["eventBridge"]["entries"],
        counts["stepFunctions"]["standardExecutions"] + counts["stepFunctions"]["expressRequests"],
    )


def run_scenario(
    target: Target, skus: list[str], tokens: list[str], scenario: str, args: argparse.Namespace
) -> dict[str, Any]:
    rng = random.Random(10)
    orders = [
        Order(index=n, token=tokens[n % len(tokens)], body=order_body(n, skus, rng, scenario))
        for n in range(args.orders)
    ]
    reset_billing(target)
    started = time.monotonic()
    deadline = started + args.deadline
    place_and_follow(
        target, orders, threads=args.threads, deadline=deadline, pollers=1, interval=args.poll
    )
    to_cancel = [o for o in orders if cancels(scenario, o.index) and o.status == "CONFIRMED"]
    for order in to_cancel:  # sent again while refused (a 502 when it outlived its timeout)
        send("POST", f"{target.api_url}/orders/{order.order_id}/cancel", order.token)
    follow_until(
        target, to_cancel, {"CANCELLED", "NEEDS_ATTENTION"}, min(deadline, time.monotonic() + 300)
    )
    counts = wait_quiet(target, quiet_seconds=args.quiet, limit_seconds=120)
    statuses = Counter(o.status or "not final" for o in orders)
    return {
        "orders": args.orders,
        "endStatuses": dict(statuses),
        "seconds": round(time.monotonic() - started, 1),
        "billing": counts,
    }


def run_workflow(workflow: str, args: argparse.Namespace) -> dict[str, Any]:
    # Ten customers stand for a thousand: the per-customer and per-IP limits are lifted (with
    # them, POSTs refused 429 left orders out of the count while their share was still divided).
    with started_localcloud({"SagaWorkflowType": workflow, **ROOMY_CLIENT_LIMITS}) as target:
        skus, tokens = seed(target, args.products, args.customers)
        rng = random.Random(1)
        warm = [
            Order(index=n, token=tokens[n % len(tokens)], body=order_body(n, skus, rng, "happy"))
            for n in range(args.warm)
        ]
        place_and_follow(
            target,
            warm,
            threads=args.threads,
            deadline=time.monotonic() + args.deadline,
            pollers=1,
            interval=0.25,
        )
        print(f"{workflow}: warmed ({Counter(o.status for o in warm)})", flush=True)
        result = {}
        for scenario in ("happy", "mix"):
            result[scenario] = run_scenario(target, skus, tokens, scenario, args)
            print(
                f"{workflow} {scenario}: {result[scenario]['endStatuses']} "
                f"in {result[scenario]['seconds']} s",
                flush=True,
            )
        return result


def price(runs: dict[str, dict[str, Any]], prices: dict[str, Any]) -> dict[str, Any]:
    """$ per 1,000 orders by service for every (workflow, architecture, scenario), and the
    memory sweep of the default workflow's happy path."""
    configurations = []
    for workflow, scenarios in runs.items():
        for architecture in ARCHITECTURES:
            for scenario, run in scenarios.items():
                costs = per_thousand_orders(
                    cost_by_service(run["billing"], prices, architecture=architecture),
                    run["orders"],
                )
                configurations.append(
                    {
                        "workflow": workflow,
                        "architecture": architecture,
                        "scenario": scenario,
                        "byService": {s: round(costs[s], 5) for s in SERVICES},
                        "total": round(sum(costs.values()), 5),
                        "default": (workflow, architecture) == DEFAULT,
                    }
                )
    sweep = []
    happy = runs.get(DEFAULT[0], {}).get("happy")
    if happy is not None:
        for architecture in ARCHITECTURES:
            for memory in MEMORY_SIZES:
                costs = per_thousand_orders(
                    cost_by_service(
                        happy["billing"], prices, architecture=architecture, memory_mb=memory
                    ),
                    happy["orders"],
                )
                sweep.append(
                    {
                        "architecture": architecture,
                        "memoryMb": memory,
                        "lambda": round(costs["lambda"], 5),
                        "total": round(sum(costs.values()), 5),
                    }
                )
    return {"configurations": configurations, "memorySweep": sweep}


def fixed_costs(runs: dict[str, dict[str, Any]], prices: dict[str, Any]) -> dict[str, Any]:
    template = Template.load(ROOT / "template.yaml", {}, "shop")
    count = Counter(resource["Type"] for resource in template.resources.values())
    metrics = max(
        (
            run["billing"]["cloudWatch"]["customMetrics"]
            for scenarios in runs.values()
            for run in scenarios.values()
        ),
        default=0,
    )
    return {
        "customMetricsSeen": metrics,
        "alarms": count["AWS::CloudWatch::Alarm"],
        "secrets": count["AWS::SecretsManager::Secret"],
        "kmsKeys": count["AWS::KMS::Key"],
        "perMonth": {
            k: round(v, 2)
            for k, v in monthly_fixed(
                metrics,
                count["AWS::CloudWatch::Alarm"],
                count["AWS::SecretsManager::Secret"],
                count["AWS::KMS::Key"],
                prices,
            ).items()
        },
    }


def report(result: dict[str, Any]) -> None:
    print(f"\n$ per 1,000 orders ({result['ordersPerScenario']} orders per scenario)")
    header = f"{'workflow':9} {'arch':7} {'scenario':8} " + " ".join(
        f"{s[:8]:>8}" for s in SERVICES
    )
    print(header + f" {'total':>8}")
    for row in result["prices"]["configurations"]:
        cells = " ".join(f"{row['byService'][s]:8.4f}" for s in SERVICES)
        mark = "  <- default" if row["default"] else ""
        print(
            f"{row['workflow']:9} {row['architecture']:7} {row['scenario']:8} {cells} "
            f"{row['total']:8.4f}{mark}"
        )
    print("\nmemory sweep (STANDARD, happy; modelled durations):")
    for row in result["prices"]["memorySweep"]:
        print(
            f"  {row['architecture']:7} {row['memoryMb']:5} MB  lambda {row['lambda']:.4f}  "
            f"total {row['total']:.4f}"
        )
    print(f"\nfixed per month (not per order): {result['fixed']['perMonth']}")
    print(f"load average {result['loadAverage']} ({result['cpus']} cpus)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="orders per scenario")
    parser.add_argument("--warm", type=int, default=4, help="orders before counting")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--quiet", type=float, default=4.0, help="seconds without change")
    parser.add_argument(
        "--poll", type=float, default=1.0, help="seconds between a client's GETs of an order"
    )
    parser.add_argument("--deadline", type=float, default=900)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.time()
    runs = {workflow: run_workflow(workflow, args) for workflow in args.workflows.split(",")}
    prices = load_prices()
    result = {
        "command": " ".join([".venv/bin/python -m bench.cost", *sys.argv[1:]]),
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "ordersPerScenario": args.orders,
        "threads": args.threads,
        "pricesRecorded": prices["recorded"],
        "aimPerThousand": AIM_PER_THOUSAND,
        "prices": price(runs, prices),
        "fixed": fixed_costs(runs, prices),
        "runs": runs,
        "seconds": round(time.time() - started, 1),
        "loadAverage": {"before": load_before, "after": os.getloadavg()},
        "cpus": os.cpu_count(),
    }
    report(result)
    write_result(args.output, result)


if __name__ == "__main__":
    main()
