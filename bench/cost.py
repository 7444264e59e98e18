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

WAF: the template's web ACL on the API stage inspects every API request, so its per-request
price is in the per-order figures (column "waf"); the web ACL's and its rules' monthly prices
are with the other fixed monthly prices, also shown spread over AMORTISED_ORDERS_PER_MONTH.
Cognito: monthly active users, not orders: zero per order, a monthly price per 1,000 users.

    .venv/bin/python -m bench.cost --reprice   (no orders: prices the counts already in
                                                --output again, after a price or a rule changed)
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
    cognito_monthly,
    cost_by_service,
    load_prices,
    monthly_fixed,
    per_thousand_orders,
)
from bench.provenance import commit
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
# The volume the fixed monthly prices are spread over on the page: a stated example, not a
# forecast (at 10,000 orders a month each fixed dollar is ten times as much per order).
AMORTISED_ORDERS_PER_MONTH = 100_000


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


def stack() -> dict[str, Any]:
    """What template.yaml deploys that is priced by the month: the web ACLs associated with a
    resource (the API's stage) and their rules, the user pools and their feature plans, and
    the counts of alarms, secrets and KMS keys."""
    template = Template.load(ROOT / "template.yaml", {}, "shop")
    associated = {
        _logical_id(properties.get("WebACLArn"))
        for _, properties in template.of_type("AWS::WAFv2::WebACLAssociation")
    }
    acls = {
        logical_id: len(properties.get("Rules") or [])
        for logical_id, properties in template.of_type("AWS::WAFv2::WebACL")
        if logical_id in associated
    }
    count = Counter(resource["Type"] for resource in template.resources.values())
    return {
        "webAcls": acls,
        "userPools": {
            logical_id: properties.get("UserPoolTier") or None
            for logical_id, properties in template.of_type("AWS::Cognito::UserPool")
        },
        "alarms": count["AWS::CloudWatch::Alarm"],
        "secrets": count["AWS::SecretsManager::Secret"],
        "kmsKeys": count["AWS::KMS::Key"],
    }


def _logical_id(reference: Any) -> str | None:
    """The resource a `!GetAtt X.Arn` or `!Ref X` names."""
    if isinstance(reference, dict):
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Ref" in reference:
            return str(reference["Ref"])
    return None


def price(
    runs: dict[str, dict[str, Any]], prices: dict[str, Any], *, web_acl: bool
) -> dict[str, Any]:
    """$ per 1,000 orders by service for every (workflow, architecture, scenario), and the
    memory sweep of the default workflow's happy path."""
    configurations = []
    for workflow, scenarios in runs.items():
        for architecture in ARCHITECTURES:
            for scenario, run in scenarios.items():
                costs = per_thousand_orders(
                    cost_by_service(
                        run["billing"], prices, architecture=architecture, web_acl=web_acl
                    ),
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
                        happy["billing"],
                        prices,
                        architecture=architecture,
                        memory_mb=memory,
                        web_acl=web_acl,
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


def fixed_costs(
    runs: dict[str, dict[str, Any]], prices: dict[str, Any], deployed: dict[str, Any]
) -> dict[str, Any]:
    """The monthly prices, whatever the orders: the stack's (custom metrics, alarms, secrets,
    KMS keys, web ACLs and their rules), also spread over AMORTISED_ORDERS_PER_MONTH orders;
    and Cognito's, per 1,000 monthly active users at each pool's feature plan."""
    metrics = max(
        (
            run["billing"]["cloudWatch"]["customMetrics"]
            for scenarios in runs.values()
            for run in scenarios.values()
        ),
        default=0,
    )
    per_month = monthly_fixed(
        metrics,
        deployed["alarms"],
        deployed["secrets"],
        deployed["kmsKeys"],
        prices,
        web_acls=len(deployed["webAcls"]),
        waf_rules=sum(deployed["webAcls"].values()),
    )
    cognito = prices["cognito"]
    plans = [plan or cognito["defaultFeaturePlan"] for plan in deployed["userPools"].values()]
    return {
        "customMetricsSeen": metrics,
        "alarms": deployed["alarms"],
        "secrets": deployed["secrets"],
        "kmsKeys": deployed["kmsKeys"],
        "webAcls": len(deployed["webAcls"]),
        "wafRules": sum(deployed["webAcls"].values()),
        "perMonth": {k: round(v, 2) for k, v in per_month.items()},
        "amortisedOrdersPerMonth": AMORTISED_ORDERS_PER_MONTH,
        "perThousandOrdersAmortised": {
            k: round(v * 1000 / AMORTISED_ORDERS_PER_MONTH, 5) for k, v in per_month.items()
        },
        "cognito": {
            "userPools": len(plans),
            "featurePlans": plans,
            "planSetInTemplate": any(deployed["userPools"].values()),
            "perOrder": 0.0,
            "perThousandMauMonth": {
                plan: round(cognito_monthly(1000, prices, plan=plan), 2)
                for plan in cognito["perMauMonth"]
            },
            "freeMauPerMonth": cognito["freeMauPerMonth"],
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
    fixed = result["fixed"]
    print(f"\nfixed per month (not per order): {fixed['perMonth']}")
    print(
        f"  spread over {fixed['amortisedOrdersPerMonth']:,} orders a month, per 1,000 orders: "
        f"{fixed['perThousandOrdersAmortised']}"
    )
    cognito = fixed["cognito"]
    print(
        f"Cognito: $0 per order; per 1,000 monthly active users a month "
        f"{cognito['perThousandMauMonth']} (the pool's plan: {cognito['featurePlans']})"
    )
    print(f"load average {result['loadAverage']} ({result['cpus']} cpus)")


def reprice(result: dict[str, Any]) -> dict[str, Any]:
    """The prices and fixed costs of a result's counted runs, with today's prices.json and
    template.yaml (the counts and the measuring run's details kept)."""
    prices = load_prices()
    deployed = stack()
    return {
        **result,
        "pricesRecorded": prices["recorded"],
        "aimPerThousand": AIM_PER_THOUSAND,
        "webAclOnApi": bool(deployed["webAcls"]),
        "prices": price(result["runs"], prices, web_acl=bool(deployed["webAcls"])),
        "fixed": fixed_costs(result["runs"], prices, deployed),
    }


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
    parser.add_argument(
        "--reprice",
        action="store_true",
        help="place no orders: price the counts already in --output again (prices.json and "
        "template.yaml as they are now), and rewrite it",
    )
    args = parser.parse_args()
    if args.reprice:
        result = reprice(json.loads(args.output.read_text()))
        result["repricedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
        report(result)
        write_result(args.output, result)
        return
    load_before = os.getloadavg()
    started = time.time()
    runs = {workflow: run_workflow(workflow, args) for workflow in args.workflows.split(",")}
    measured = {
        "command": " ".join([".venv/bin/python -m bench.cost", *sys.argv[1:]]),
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "ordersPerScenario": args.orders,
        "threads": args.threads,
        "runs": runs,
        "seconds": round(time.time() - started, 1),
        "loadAverage": {"before": load_before, "after": os.getloadavg()},
        "cpus": os.cpu_count(),
    }
    result = reprice(measured)
    report(result)
    write_result(args.output, result)


if __name__ == "__main__":
    main()
