"""docs/performance.md and its plots, from the benchmarks' results in bench/results/:

- cold_start.json (bench.cold_start): cold init per function, boto3's floor, the reference;
- latency.json (bench.latency): p50/p95/p99 per API route, POST -> CONFIRMED;
- cost.json (bench.cost): $ per 1,000 orders by service per configuration, the memory sweep;
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
    before = ", ".join(f"{v:.1f}" for v in load["before"])
    after = ", ".join(f"{v:.1f}" for v in load["after"])
    return (
        f"load average (1, 5, 15 min) {before} before, {after} after, on {result.get('cpus')} cores"
    )


# ---------------------------------------------------------------------- cold start


def cold_start_section(result: dict[str, Any] | None) -> list[str]:
    lines = ["## Cold init per function", ""]
    if result is None:
        return [
            *lines,
            "Not measured: `python -m bench.cold_start` has not written its result.",
            "",
        ]
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
    lines = ["## Latency per API route (warm, steady concurrent load)", ""]
    if result is None:
        return [*lines, "Not measured: `python -m bench.latency` has not written its result.", ""]
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
    lines = ["## Cost per 1,000 orders", ""]
    if result is None:
        return [*lines, "Not measured: `python -m bench.cost` has not written its result.", ""]
    configurations = result["prices"]["configurations"]
    default_happy = next(
        (c for c in configurations if c["default"] and c["scenario"] == "happy"), None
    )
    default_mix = next((c for c in configurations if c["default"] and c["scenario"] == "mix"), None)
    lines += [
        f"`{result['command']}`, {result.get('measuredAt', '')}; {result['ordersPerScenario']} "
        f"orders per scenario from {result['threads']} client threads; {_load(result)}. "
        f"Prices: bench/prices.json (us-east-1 list prices, recorded {result['pricesRecorded']}, "
        "first tier, no free tier).",
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
    if default_happy and default_mix:
        aim = result["aimPerThousand"]
        lines += [
            f"**Default configuration (STANDARD, arm64): ${default_happy['total']:.4f} per "
            f"1,000 orders on the happy path, ${default_mix['total']:.4f} on the mix** "
            f"(aim: at most ${aim}).",
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
        cells = " | ".join(f"{c['byService'][s]:.4f}" for s in SERVICES)
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
    fixed = result["fixed"]
    lines += [
        "",
        "Not per order (a month of the stack, whatever the orders): "
        + ", ".join(f"{k} ${v:.2f}" for k, v in fixed["perMonth"].items())
        + f" ({fixed['customMetricsSeen']} custom metrics seen in the run, {fixed['alarms']} "
        f"alarms, {fixed['secrets']} secrets, {fixed['kmsKeys']} KMS keys in the template); "
        "plus the SQS pollers' empty receives, Cognito's monthly active users and storage.",
        "",
    ]
    return lines


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
    for service in SERVICES:
        values = [c["byService"][service] for c in configurations]
        ax.bar(range(len(configurations)), values, bottom=bottom, label=SERVICE_NAMES[service])
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


# ---------------------------------------------------------------------- startup


def startup_section(result: dict[str, Any] | None) -> list[str]:
    lines = ["## Start-up and warm overhead", ""]
    if result is None:
        return [*lines, "Not measured: `python -m bench.run` has not written its result.", ""]
    return [
        *lines,
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
    cold, latency, cost, run = (
        load(name) for name in ("cold_start.json", "latency.json", "cost.json", "run.json")
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
        *cold_start_section(cold),
        *startup_section(run),
    ]
    PAGE.write_text("\n".join(lines).rstrip() + "\n")
    return PAGE


if __name__ == "__main__":
    print(f"written to {write_page()}")
