"""docs/performance.md and its plots, from the benchmarks' results in bench/results/:

- cold_start.json (bench.cold_start): cold init per function, boto3's floor, the reference;
- latency.json (bench.latency): p50/p95/p99 per API route, POST -> CONFIRMED;
- cost.json (bench.cost): $ per 1,000 orders by service per configuration, the memory sweep,
  the fixed monthly prices (the stack's, WAF's web ACL and rules, Cognito's users);
- catalog_cache.json (bench.catalog_cache): catalog reads with and without the stage cache;
- run.json (bench.run): time to a healthy API, warm overhead per invocation.

Each section names the command that measured it, when, and the machine's load around it;
a result that is missing is said to be missing, never filled in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.pricing import SERVICES
from bench.provenance import commit, machine
from tests.support.localcloud_process import ROOT

RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "performance.md"
PLOTS = ROOT / "docs" / "performance"
SERVICE_NAMES = {
    "lambda": "Lambda",
    "dynamodb": "DynamoDB",
    "stepFunctions": "Step Functions",
    "apiGateway": "API Gateway",
    "waf": "WAF requests",
    "eventBridge": "EventBridge",
    "sqs": "SQS",
    "ses": "SES",
    "cloudWatchLogs": "CloudWatch Logs",
    "xray": "X-Ray",
    "other": "Secrets Manager, KMS, PutMetricData",
}


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def _load(result: dict[str, Any]) -> str:
    load = result.get("loadAverage")
    if not load:
        return ""
    return f"{_load_average(load['before'], load['after'])}, on {result.get('cpus')} cores"


def _load_average(before: list[float], after: list[float]) -> str:
    def minutes(values: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    return f"load average (1, 5, 15 min) {minutes(before)} before, {minutes(after)} after"


def _not_measured(title: str, module: str) -> list[str]:
    """The section of a benchmark that has not written its result yet."""
    return [title, "", f"Not measured: `python -m {module}` has not written its result.", ""]


# ---------------------------------------------------------------------- cold start


def cold_start_section(result: dict[str, Any] | None) -> list[str]:
    title = "## Cold init per function"
    if result is None:
        return _not_measured(title, "bench.cold_start")
    lines = [title, ""]
    summary = result["summary"]
    reference = result.get("reference")
    lines += [
        f"`{result['command']}`, {result['measured_at']}, commit {result['commit']}, "
        f"{result['machine']}; load average {result['load_average_before']} before, "
        f"{result['load_average_after']} after. The median of {result['rounds']} fresh "
        "interpreters per function, each importing its handler module with the template's "
        "environment (Lambda's init phase).",
        "",
        f"Floor (boto3 plus one client): {result['floor']['median_ms']} ms. "
        + (
            f"Reference (aws-samples/aws-serverless-ecommerce-platform `orders/create_order`): "
            f"{reference['median_ms']} ms. Median function {summary['median_function_ms']} ms "
            f"(ratio {summary['median_ratio']}), slowest {summary['slowest_function']} "
            f"{summary['slowest_function_ms']} ms (ratio {summary['slowest_ratio']})."
            if reference
            else "The reference was not timed in that run."
        ),
        "",
        "![cold init per function](performance/cold_start.png)",
        "",
        "| function | median ms | above floor ms | ratio to reference |",
        "|---|---:|---:|---:|",
    ]
    for name, row in sorted(result["functions"].items(), key=lambda kv: -kv[1]["median_ms"]):
        lines.append(
            f"| {name} | {row['median_ms']} | {row.get('above_floor_ms', '')} | "
            f"{row.get('ratio_to_reference', '')} |"
        )
    return [*lines, ""]


def cold_start_plot(result: dict[str, Any], path: Path) -> None:
    rows = sorted(result["functions"].items(), key=lambda kv: kv[1]["median_ms"])
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.5))
    ax.barh([name.removesuffix("Function") for name, _ in rows], [r["median_ms"] for _, r in rows])
    ax.axvline(
        result["floor"]["median_ms"], color="grey", linestyle="--", label="floor (boto3 + client)"
    )
    if result.get("reference"):
        ax.axvline(result["reference"]["median_ms"], color="red", label="reference create_order")
    ax.set_xlabel("cold init, median ms")
    ax.legend(loc="lower right")
    ax.set_title(f"Cold init per function ({result['machine']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------- latency


def latency_section(result: dict[str, Any] | None) -> list[str]:
    title = "## Latency per API route (warm, steady concurrent load)"
    if result is None:
        return _not_measured(title, "bench.latency")
    lines = [title, ""]
    confirmed = result["postToConfirmedMs"]
    cold = result["coldStartsWhileMeasuring"]
    lines += [
        f"`{result['command']}`, {result.get('measuredAt', '')}; {result['clients']} clients, each "
        f"sending one request after the other for {result['seconds']} s "
        f"({result['requests']} requests, {result['requestsPerSecond']} per second), after "
        f"a warm-up; {_load(result)}. localcloud lifts the per-customer order limit for it (a "
        "few clients stand for many customers). Measured by the client, localcloud on this "
        "machine: what "
        "the code and localcloud add, not what API Gateway and Lambda on AWS would. Cold starts "
        f"while measuring: {cold or 'none'}.",
        "",
        "![latency per route](performance/latency.png)",
        "",
        "| route | requests | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for route, row in result["routesMs"].items():
        lines.append(
            f"| {route} | {row['n']} | {row['p50']} | {row['p95']} | {row['p99']} | "
            f"{row['errors']} |"
        )
    lines += [
        "",
        f"POST /orders -> CONFIRMED ({confirmed['n']} orders, from the client's POST to the "
        f"order's CONFIRMED history entry): p50 {confirmed['p50']} ms, p95 {confirmed['p95']} "
        f"ms, p99 {confirmed['p99']} ms.",
        "",
    ]
    return lines


def latency_plot(result: dict[str, Any], path: Path) -> None:
    routes = list(result["routesMs"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.27
    for offset, key in enumerate(("p50", "p95", "p99")):
        values = [result["routesMs"][r][key] or 0 for r in routes]
        ax.bar([i + (offset - 1) * width for i in range(len(routes))], values, width, label=key)
    ax.set_xticks(range(len(routes)), routes, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("ms (client side)")
    ax.set_title(f"Latency per route, {result['clients']} concurrent clients (localcloud)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------- cost


def cost_section(result: dict[str, Any] | None) -> list[str]:
    title = "## Cost per 1,000 orders"
    if result is None:
        return _not_measured(title, "bench.cost")
    lines = [title, ""]
    configurations = result["prices"]["configurations"]
    default_happy = next(
        (c for c in configurations if c["default"] and c["scenario"] == "happy"), None
    )
    default_mix = next((c for c in configurations if c["default"] and c["scenario"] == "mix"), None)
    lines += [
        f"`{result['command']}`, {result.get('measuredAt', '')}"
        + (f", commit {result['commit']}" if result.get("commit") else "")
        + f"; {result['ordersPerScenario']} "
        f"orders per scenario from {result['threads']} client threads; {_load(result)}. "
        f"Prices: bench/prices.json (us-east-1 list prices, recorded {result['pricesRecorded']}, "
        "first tier, no free tier)"
        + (
            f", applied to that run's counts again at {result['repricedAt']} "
            "(`python -m bench.cost --reprice`: WAF and Cognito added)."
            if result.get("repricedAt")
            else "."
        ),
        "",
        "Measured on localcloud: every count (Lambda requests and durations, DynamoDB read and "
        "write units from the real items, GSI writes, transactions at double, EventBridge "
        "events and SQS requests in 64 KB chunks, SES messages, STANDARD state transitions "
        "from each execution's history, EXPRESS executions and their durations, log bytes). "
        "Modelled: the architecture (the same durations at arm64's or x86_64's GB-second "
        "price), the memory sweep (bench/pricing.py: the CPU-bound half of a duration scales "
        "with the vCPU share Lambda gives each memory size), Lambda's own START/END/REPORT log "
        "lines, and X-Ray (a trace per API request and per event-source batch, all sampled: "
        "an upper bound). Durations come from localcloud's workers on this machine and are "
        "taken as the durations at the template's 512 MB.",
        "",
    ]
    if result.get("webAclOnApi"):
        lines += [
            "WAF: the template associates a web ACL (a per-IP rate rule) with the API's stage, "
            "so WAF inspects every request the stage receives, allowed or blocked: column "
            '"WAF requests" is the API requests counted on localcloud at WAF\'s price per '
            "million. The web ACL's and its rule's monthly prices do not grow with orders: they "
            "are under [Not per order](#not-per-order) below. Cognito bills monthly active "
            "users, not orders: no column here, its monthly price per 1,000 users below.",
            "",
        ]
    if default_happy and default_mix:
        aim = result["aimPerThousand"]
        waf_happy = default_happy["byService"].get("waf")
        waf_note = (
            f", of which WAF ${waf_happy:.4f} "
            f"(${default_happy['total'] - waf_happy:.4f} without it)"
            if waf_happy
            else ""
        )
        lines += [
            f"**Default configuration (STANDARD, arm64): ${default_happy['total']:.4f} per "
            f"1,000 orders on the happy path, ${default_mix['total']:.4f} on the mix** "
            f"(aim: at most ${aim}){waf_note}.",
            "",
        ]
    lines += [
        "![cost per 1,000 orders](performance/cost.png)",
        "",
        "| workflow | architecture | scenario | "
        + " | ".join(SERVICE_NAMES[s] for s in SERVICES)
        + " | total |",
        "|---|---|---|" + "---:|" * (len(SERVICES) + 1),
    ]
    for c in configurations:
        cells = " | ".join(_dollars(c["byService"].get(s)) for s in SERVICES)
        name = f"**{c['workflow']}**" if c["default"] else c["workflow"]
        lines.append(
            f"| {name} | {c['architecture']} | {c['scenario']} | {cells} | {c['total']:.4f} |"
        )
    lines += ["", "Counts behind the happy path of each workflow type (per 1,000 orders):", ""]
    lines += counts_table(result)
    sweep = result["prices"]["memorySweep"]
    if sweep:
        lines += [
            "",
            "### Memory sweep (STANDARD, happy path; durations modelled from the measured ones)",
            "",
            "![memory sweep](performance/memory.png)",
            "",
            "| memory MB | arm64 Lambda $ | arm64 total $ | x86_64 Lambda $ | x86_64 total $ |",
            "|---:|---:|---:|---:|---:|",
        ]
        by_memory: dict[int, dict[str, dict[str, float]]] = {}
        for row in sweep:
            by_memory.setdefault(row["memoryMb"], {})[row["architecture"]] = row
        for memory, rows in sorted(by_memory.items()):
            arm, x86 = rows.get("arm64", {}), rows.get("x86_64", {})
            lines.append(
                f"| {memory} | {arm.get('lambda', 0):.4f} | {arm.get('total', 0):.4f} | "
                f"{x86.get('lambda', 0):.4f} | {x86.get('total', 0):.4f} |"
            )
    return [*lines, "", *fixed_section(result)]


FIXED_NAMES = {
    "customMetrics": "CloudWatch custom metrics",
    "alarms": "CloudWatch alarms",
    "secrets": "Secrets Manager secrets",
    "kmsKeys": "KMS keys",
    "wafWebAcls": "WAF web ACL",
    "wafRules": "WAF rules",
}


def fixed_section(result: dict[str, Any]) -> list[str]:
    """The monthly prices that do not grow with orders, spread over a stated volume, and
    Cognito's per 1,000 monthly active users."""
    fixed = result["fixed"]
    counts = {
        "customMetrics": f"{fixed['customMetricsSeen']} seen in the run",
        "alarms": f"{fixed['alarms']} in the template",
        "secrets": f"{fixed['secrets']} in the template",
        "kmsKeys": f"{fixed['kmsKeys']} in the template",
        "wafWebAcls": f"{fixed.get('webAcls', 0)} on the API stage",
        "wafRules": f"{fixed.get('wafRules', 0)} (the per-IP rate rule)",
    }
    amortised = fixed.get("perThousandOrdersAmortised")
    volume = fixed.get("amortisedOrdersPerMonth")
    lines = [
        "### Not per order",
        "",
        "A month of the stack, whatever the orders"
        + (
            f"; spread over {volume:,} orders a month (an example volume, not a forecast: at a "
            "tenth of it each is ten times as much per order) it adds the last column to the "
            "per-order figures above"
            if amortised
            else ""
        )
        + ".",
        "",
        "| monthly price | how many | $ per month |"
        + (f" $ per 1,000 orders at {volume:,} a month |" if amortised else ""),
        "|---|---|---:|" + ("---:|" if amortised else ""),
    ]
    for key, dollars in fixed["perMonth"].items():
        row = f"| {FIXED_NAMES.get(key, key)} | {counts.get(key, '')} | {dollars:.2f} |"
        if amortised:
            row += f" {amortised[key]:.4f} |"
        lines.append(row)
    total = sum(fixed["perMonth"].values())
    row = f"| **all of the above** | | **{total:.2f}** |"
    if amortised:
        row += f" **{sum(amortised.values()):.4f}** |"
    lines += [row, ""]
    cognito = fixed.get("cognito")
    if cognito:
        plans = cognito["perThousandMauMonth"]
        plan = cognito["featurePlans"][0] if cognito["featurePlans"] else "ESSENTIALS"
        others = ", ".join(f"{name} ${dollars:.2f}" for name, dollars in plans.items())
        free = cognito["freeMauPerMonth"].get(plan, 0)
        lines += [
            f"Cognito (user pool, feature plan {plan}"
            + ("" if cognito["planSetInTemplate"] else ": the template sets no UserPoolTier")
            + f"): **$0 per order** (orders make no monthly active users: a customer who "
            "signs in is one a month however many orders they place); "
            f"**${plans[plan]:.2f} a month per 1,000 monthly active users** at the first "
            f"tier's price (per 1,000 by plan: {others}), of which the first {free:,} a month "
            "are free on the account. The pool uses none of the features the API reference "
            "says the plan gates (managed login, access-token customization, threat "
            "protection): LITE looks possible, not tried.",
            "",
        ]
    lines += [
        "Also not per order and not priced here: the SQS pollers' empty receives, storage "
        "(DynamoDB, logs kept), the prod stage cache by the hour (template parameter "
        "ApiCacheSize).",
        "",
    ]
    return lines


def _dollars(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def counts_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| workflow | Lambda requests | Lambda GB-s | DynamoDB RRU | DynamoDB WRU (GSI incl.) "
        "| transitions | Express requests | events | SQS requests | API requests | "
        "SES messages | log MB |",
        "|---|" + "---:|" * 11,
    ]
    for workflow, scenarios in result["runs"].items():
        run = scenarios.get("happy")
        if run is None:
            continue
        b, scale = run["billing"], 1000 / run["orders"]
        functions = b["lambda"].values()
        gb_s = sum(f["billedMs"] / 1000 * f.get("memoryMb", 128) / 1024 for f in functions)
        rru = sum(t["readUnits"] for t in b["dynamodb"].values())
        wru = sum(t["writeUnits"] + t["indexWriteUnits"] for t in b["dynamodb"].values())
        steps = b["stepFunctions"]
        values = [
            sum(f["requests"] for f in functions),
            gb_s,
            rru,
            wru,
            steps["standardTransitions"],
            steps["expressRequests"],
            b["eventBridge"]["events64KB"],
            b["sqs"]["requests"],
            b["apiGateway"]["requests"],
            b["ses"]["messages"],
            sum(b["cloudWatch"]["logBytes"].values()) / 1024**2,
        ]
        lines.append(
            f"| {workflow} | "
            + " | ".join(
                f"{v * scale:,.0f}" if i != 10 else f"{v * scale:,.1f}"
                for i, v in enumerate(values)
            )
            + " |"
        )
    return lines


def cost_plot(result: dict[str, Any], path: Path) -> None:
    configurations = result["prices"]["configurations"]
    labels = [f"{c['workflow']}\n{c['architecture']}\n{c['scenario']}" for c in configurations]
    fig, ax = plt.subplots(figsize=(10, 5))
    bottom = [0.0] * len(configurations)
    tab20 = plt.get_cmap("tab20")  # more services than the default colour cycle's 10
    colours = [tab20(n) for n in range(20)]
    for index, service in enumerate(SERVICES):
        values = [c["byService"].get(service, 0.0) for c in configurations]
        ax.bar(
            range(len(configurations)),
            values,
            bottom=bottom,
            label=SERVICE_NAMES[service],
            color=colours[(2 * index) % 20 if index < 10 else 2 * (index - 10) + 1],
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.axhline(result["aimPerThousand"], color="black", linestyle="--", label="aim")
    ax.set_xticks(range(len(configurations)), labels, fontsize=7)
    ax.set_ylabel("$ per 1,000 orders")
    ax.set_title("Cost per 1,000 orders by service (us-east-1 list prices)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def memory_plot(result: dict[str, Any], path: Path) -> None:
    sweep = result["prices"]["memorySweep"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for architecture in ("arm64", "x86_64"):
        rows = [r for r in sweep if r["architecture"] == architecture]
        ax.plot(
            [r["memoryMb"] for r in rows],
            [r["total"] for r in rows],
            marker="o",
            label=architecture,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("memory MB (every function)")
    ax.set_ylabel("$ per 1,000 orders (total)")
    ax.set_title("Memory sweep, STANDARD happy path (modelled durations)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------- catalog cache


def catalog_cache_section(result: dict[str, Any] | None) -> list[str]:
    title = "## Catalog reads with and without the API stage cache"
    if result is None:
        return _not_measured(title, "bench.catalog_cache")
    lines = [title, ""]
    workload = result["workload"]
    load_average = _load_average(result["load_average_before"], result["load_average_after"])
    runs = result["runs"]
    lines += [
        f"`{result['command']}`, {result['ran_at']}, commit {result['commit']}, "
        f"{result['machine']}; {load_average}. "
        f"Two localclouds one after the other, the same {workload['requests']:,} requests "
        f"from {workload['threads']} clients on each: {workload['mix']}, over "
        f'{workload["products"]} products; "stage cache" is Stage=prod (the template\'s '
        f"cache on GET /products and /products/{{sku}}, TTL {workload['ttl_seconds']} s, "
        'emulated by localcloud), "no cache" is Stage=dev. A warm-up on keys the workload '
        "never asks keeps cold starts out. Hit ratio: 1 - the two functions' invocations / "
        "requests (localcloud's counts); CloudWatch's CacheHitCount / CacheMissCount for "
        "the stage include the warm-up. Latency measured by the client on 127.0.0.1.",
        "",
        "| configuration | requests | function invocations | hit ratio | CloudWatch hits / "
        "misses | p50 ms | p95 ms | p99 ms | mean ms | requests/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        every = run["all"]
        watch = run.get("cloudwatch", {})
        lines.append(
            f"| {name} | {run['requests']:,} | {sum(run['function_invocations'].values()):,} "
            f"| {run['hit_ratio']:.3f} | {watch.get('CacheHitCount', 0):,} / "
            f"{watch.get('CacheMissCount', 0):,} | {every['p50_ms']} | {every['p95_ms']} | "
            f"{every['p99_ms']} | {every['mean_ms']} | {run['throughput_rps']} |"
        )
    lines += [
        "",
        "| route | configuration | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    routes = sorted({route for run in runs.values() for route in run["routes"]})
    for route in routes:
        for name, run in runs.items():
            row = run["routes"].get(route)
            if row:
                lines.append(
                    f"| {route} | {name} | {row['requests']:,} | {row['p50_ms']} | "
                    f"{row['p95_ms']} | {row['p99_ms']} |"
                )
    speedup = result.get("speedup") or {}
    if speedup:
        lines += [
            "",
            "Without the cache / with it: "
            + ", ".join(
                f"{key.removesuffix('_ms')} {value}x"
                for key, value in speedup.items()
                if value is not None
            )
            + ". Stock shown by a cached answer may be stale by the TTL; reservation never "
            "reads the cache.",
        ]
    return [*lines, ""]


# ---------------------------------------------------------------------- startup


def startup_section(result: dict[str, Any] | None) -> list[str]:
    title = "## Start-up and warm overhead"
    if result is None:
        return _not_measured(title, "bench.run")
    return [
        title,
        "",
        f"`{result['command']}`, {result.get('measuredAt', '')}; {_load(result)}.",
        "",
        f"- `make run` to a healthy API: median {result['healthySeconds']['median']} s "
        f"(of {result['healthySeconds']['runs']});",
        f"- warm overhead localcloud adds per invocation: {result['warmOverheadMs']} ms;",
        f"- POST /orders -> CONFIRMED, one order at a time: first {result['firstOrderSeconds']} s "
        f"(cold functions), then median {result['warmOrderSeconds']} s.",
        "",
    ]


# ---------------------------------------------------------------------- the page


def write_page() -> Path:
    PLOTS.mkdir(parents=True, exist_ok=True)
    cold, latency, cost, cache, run = (
        load(name)
        for name in (
            "cold_start.json",
            "latency.json",
            "cost.json",
            "catalog_cache.json",
            "run.json",
        )
    )
    if cold is not None:
        cold_start_plot(cold, PLOTS / "cold_start.png")
    if latency is not None:
        latency_plot(latency, PLOTS / "latency.png")
    if cost is not None:
        cost_plot(cost, PLOTS / "cost.png")
        if cost["prices"]["memorySweep"]:
            memory_plot(cost, PLOTS / "memory.png")
    lines = [
        "# Performance and cost",
        "",
        f"Written by `make bench` (`python -m bench.run`; `python -m bench.performance` "
        f"rewrites the page from bench/results/ alone) at commit {commit()}, on {machine()}. "
        "The machine is shared: each section gives the load average around its run. Nothing "
        "here is asserted by a test.",
        "",
        *cost_section(cost),
        *latency_section(latency),
        *catalog_cache_section(cache),
        *cold_start_section(cold),
        *startup_section(run),
    ]
    PAGE.write_text("\n".join(lines).rstrip() + "\n")
    return PAGE


if __name__ == "__main__":
    print(f"written to {write_page()}")
