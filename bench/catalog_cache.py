"""Catalog reads with and without the API's stage cache: hit ratio and latency, on localcloud.

    .venv/bin/python -m bench.catalog_cache [--requests 1500] [--threads 8] [--ttl 60]

Two localclouds from template.yaml, one after the other, the same workload on each:
- "stage cache": Stage=prod, so the template's ApiCacheOn condition gives the stage a cache and
  GET /products and /products/{sku} cache for CatalogCacheTtlSeconds (localcloud emulates API
  Gateway's cache: localcloud/apigateway/cache.py);
- "no cache": Stage=dev, the same functions and TTL (clients' max-age), no stage cache.

The workload is a shopper's browsing: GET /products/{sku} (70%) over the seeded SKUs with a
Zipf-like popularity (a few products are most of the views), and GET /products pages (30%):
the first page, or a later one through the previous page's nextCursor, as a client pages.
Clients send no If-None-Match (a first visit each time), so every request is a full answer.
Each run starts with a concurrent warm-up of both functions, unmeasured, on keys the workload
never asks (warm_up), so cold starts stay out of the latencies and the hit ratio.

Hit ratio = 1 - (the two functions' invocations during the measured phase / requests), from
localcloud's own counts; CloudWatch's AWS/ApiGateway CacheHitCount and CacheMissCount for the
stage are reported beside it (they count the warm-up requests as well). Latency is what the
client measured, end to end over HTTP on 127.0.0.1.

Writes bench/results/catalog_cache.json (read by the performance page, bench.run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.load import Target, put_product
from bench.provenance import commit, machine
from bench.started import started_localcloud
from localcloud.awsclients import AwsClients
from tests.support.localcloud_process import ROOT

RESULTS = ROOT / "bench" / "results" / "catalog_cache.json"
FUNCTIONS = ("GetProductFunction", "ListProductsFunction")
# The stage's throttle, the WAF rate rule: far above this workload, so neither shapes it.
ROOMY = {
    "WafRateLimit": "2000000000",
    "ApiThrottlingRateLimit": "100000",
    "ApiThrottlingBurstLimit": "100000",
}
CONFIGURATIONS = {"stage cache": {"Stage": "prod"}, "no cache": {"Stage": "dev"}}
PAGE_SIZE = 20


@dataclass
class Sample:
    route: str  # "GET /products/{sku}" or "GET /products"
    status: int
    ms: float


@dataclass
class Workload:
    skus: list[str]
    requests: int
    threads: int
    seed: int
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def get(url: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, body, (time.perf_counter() - started) * 1000


def zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return [1 / (rank**exponent) for rank in range(1, count + 1)]


def browse(target: Target, workload: Workload, worker: int) -> None:
    """This client's share of the requests: product views and catalog pages."""
    rng = random.Random(workload.seed * 1000 + worker)
    weights = zipf_weights(len(workload.skus))
    share = workload.requests // workload.threads + (worker < workload.requests % workload.threads)
    cursor: str | None = None
    for _ in range(share):
        if rng.random() < 0.7:
            sku = rng.choices(workload.skus, weights)[0]
            status, _, ms = get(f"{target.api_url}/products/{sku}")
            sample = Sample("GET /products/{sku}", status, ms)
        else:
            query = f"limit={PAGE_SIZE}" + (f"&cursor={cursor}" if cursor else "")
            status, body, ms = get(f"{target.api_url}/products?{query}")
            sample = Sample("GET /products", status, ms)
            next_cursor = json.loads(body).get("nextCursor") if status == 200 else None
            # Page on, or start again at the first page (a new visit), as shoppers do.
            cursor = next_cursor if next_cursor and rng.random() < 0.5 else None
        with workload.lock:
            workload.samples.append(sample)


def warm_up(target: Target, threads: int) -> None:
    """Unmeasured: as many concurrent requests to each function as there are clients, so the
    measured phase finds warm workers (cold starts are bench.cold_start's business). Their
    cache keys are never asked again (unknown SKUs, page sizes the workload does not use), so
    the stage cache starts the measured phase empty of the workload's keys."""
    urls = [f"{target.api_url}/products/WARM-{n:03d}" for n in range(threads)]
    urls += [
        f"{target.api_url}/products?limit={n}" for n in range(1, threads + 2) if n != PAGE_SIZE
    ]
    for _ in range(2):
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(get, urls))


def invocations(target: Target) -> dict[str, int]:
    functions = target.status()["functions"]
    return {name: int(functions.get(name, {}).get("invocations", 0)) for name in FUNCTIONS}


def cache_metrics(target: Target, since: datetime) -> dict[str, int]:
    """The stage's CacheHitCount and CacheMissCount sums in CloudWatch since `since`."""
    cloudwatch = AwsClients(target.aws_url).client("cloudwatch")
    time.sleep(2.5)  # localcloud's metrics publisher flushes every second
    sums: dict[str, int] = {}
    for metric in ("CacheHitCount", "CacheMissCount"):
        listed = cloudwatch.list_metrics(Namespace="AWS/ApiGateway", MetricName=metric)
        total = 0.0
        stages = {  # moto lists a metric once per datum put: one entry per dimension set
            tuple(sorted((d["Name"], d["Value"]) for d in found["Dimensions"]))
            for found in listed["Metrics"]
        }
        for stage in stages:
            if {name for name, _ in stage} != {"ApiName", "Stage"}:
                continue
            dimensions = [{"Name": name, "Value": value} for name, value in stage]
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/ApiGateway",
                MetricName=metric,
                Dimensions=dimensions,
                StartTime=since - timedelta(minutes=1),
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            total += sum(point["Sum"] for point in points)
        sums[metric] = int(total)
    return sums


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[Sample]) -> dict[str, Any]:
    ms = [sample.ms for sample in samples]
    return {
        "requests": len(samples),
        "non_200": sum(sample.status != 200 for sample in samples),
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def run_one(name: str, overrides: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    with started_localcloud(
        {**ROOMY, **overrides, "CatalogCacheTtlSeconds": str(args.ttl)}
    ) as target:
        admin = target.token("cache-bench-admin", admin=True)
        skus = [f"CACHE-{n:03d}" for n in range(1, args.products + 1)]
        for n, sku in enumerate(skus, start=1):
            put_product(target, admin, sku, price_cents=100 * n, stock=1000)
        warm_up(target, args.threads)
        since = datetime.now(UTC)
        before = invocations(target)
        workload = Workload(skus, args.requests, args.threads, args.seed)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            for future in [pool.submit(browse, target, workload, n) for n in range(args.threads)]:
                future.result()
        seconds = time.perf_counter() - started
        after = invocations(target)
        invoked = {fn: after[fn] - before[fn] for fn in FUNCTIONS}
        served = len(workload.samples)
        result: dict[str, Any] = {
            "overrides": overrides,
            "requests": served,
            "seconds": round(seconds, 2),
            "throughput_rps": round(served / seconds, 1),
            "function_invocations": invoked,
            "hit_ratio": round(1 - sum(invoked.values()) / served, 3),
            "all": summary(workload.samples),
            "routes": {
                route: summary([s for s in workload.samples if s.route == route])
                for route in ("GET /products/{sku}", "GET /products")
            },
            "cloudwatch": cache_metrics(target, since),
        }
        print(
            f"{name:12} hit ratio {result['hit_ratio']:.3f}  p50 {result['all']['p50_ms']} ms  "
            f"p95 {result['all']['p95_ms']} ms  p99 {result['all']['p99_ms']} ms  "
            f"invocations {invoked}"
        )
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--ttl", type=int, default=60, help="CatalogCacheTtlSeconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_before = os.getloadavg()
    runs = {name: run_one(name, overrides, args) for name, overrides in CONFIGURATIONS.items()}
    load_after = os.getloadavg()
    cached, uncached = runs["stage cache"]["all"], runs["no cache"]["all"]
    result = {
        "benchmark": "catalog reads with and without the API stage cache (issue 10 item 4)",
        "command": "python -m bench.catalog_cache "
        f"--requests {args.requests} --threads {args.threads} --products {args.products} "
        f"--ttl {args.ttl} --seed {args.seed}",
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "workload": {
            "mix": "70% GET /products/{sku} (Zipf 1.1 over the SKUs), 30% GET /products "
            f"(limit={PAGE_SIZE}, first page or the previous page's nextCursor)",
            "products": args.products,
            "threads": args.threads,
            "requests": args.requests,
            "ttl_seconds": args.ttl,
        },
        "runs": runs,
        "speedup": {
            key: round(uncached[key] / cached[key], 2) if cached[key] else None
            for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
