"""The numbers the README and the issue notes quote, measured on this machine, and the page
that shows them all (docs/performance.md, bench/performance.py).

    make bench          (every benchmark, then .venv/bin/python -m bench.run)
    .venv/bin/python -m bench.run [--page-only]

1. seconds from starting `localcloud run` (as `make run` does, .venv ready) to a healthy API;
2. the warm overhead one invocation adds over the handler's own time (bench.runtime_overhead);
3. the cold start and a warm invocation of every function, each with its sample event
   from events/ (localcloud reports cold/warm and duration per invocation);
4. POST /v1/orders -> CONFIRMED, the first order (cold functions) and the next ones (warm).

Aims: under 10 s to healthy, under 5 ms warm overhead per invocation. Writes
bench/results/run.json, then docs/performance.md from every result in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.performance import write_page
from bench.runtime_overhead import NOOP_HANDLER, warm_overhead_ms
from tests.support.localcloud_process import ROOT, RunningLocalCloud, localcloud_process

ORDERS = 5
RESULTS = ROOT / "bench" / "results" / "run.json"


def http(
    method: str, url: str, token: str | None = None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": token or "", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def time_to_healthy() -> float:
    """Start `localcloud run` like `make run` and poll GET /v1/health."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, localcloud_process(Path(tmp)) as cloud:
        while True:
            try:
                if http("GET", f"{cloud.api_url}/health")[0] == 200:
                    return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.02)


def invoke(cloud: RunningLocalCloud, function: str, event: bytes) -> tuple[bool, float, bool]:
    # Signed as localcloud's admin: IAM refuses unsigned calls. The times are the server's.
    client = cloud.aws.client("lambda")
    response = client.invoke(FunctionName=function, Payload=event)
    response["Payload"].read()
    headers = response["ResponseMetadata"]["HTTPHeaders"]  # lower-cased by botocore
    return (
        headers["x-localcloud-cold-start"] == "true",
        float(headers["x-localcloud-duration-ms"]),
        "FunctionError" in response,
    )


def function_events() -> list[tuple[str, Path]]:
    """(function logical id, its sample event events/<handler module>.json), ordered so that
    no function is woken by another's sample before its own cold start is measured: saga
    tasks first (a stream consumer's sample starts a saga), then event consumers, then the
    API functions (whose writes wake the stream consumers)."""
    from localcloud.cloudformation.template import Template

    template = Template.load(ROOT / "template.yaml")
    saga_tasks = {
        ref
        for _, machine in template.of_type("AWS::StepFunctions::StateMachine")
        for value in machine.get("DefinitionSubstitutions", {}).values()
        if isinstance(value, dict)
        for ref in [value.get("Fn::GetAtt", [None])[0]]
    }
    consumers = {
        mapping["FunctionName"]["Ref"]
        for _, mapping in template.of_type("AWS::Lambda::EventSourceMapping")
    }
    found = []
    for name, properties in template.of_type("AWS::Lambda::Function"):
        module = properties["Handler"].rsplit(".", 1)[0].rsplit(".", 1)[-1]
        event = ROOT / "events" / f"{module}.json"
        if event.exists():
            rank = 0 if name in saga_tasks else 1 if name in consumers else 2
            found.append((rank, name, event))
    return [(name, event) for _, name, event in sorted(found)]


def cold_and_warm(cloud: RunningLocalCloud) -> dict[str, tuple[float, float]]:
    results = {}
    for function, event_path in function_events():
        event = event_path.read_bytes()
        cold, cold_ms, _ = invoke(cloud, function, event)
        _, warm_ms, _ = invoke(cloud, function, event)
        results[function] = (cold_ms if cold else float("nan"), warm_ms)
    return results


SHIPPING_ADDRESS = {"line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}


def order_to_confirmed(cloud: RunningLocalCloud, token: str) -> float:
    started = time.monotonic()
    status, placed = http(
        "POST",
        f"{cloud.api_url}/orders",
        token,
        {
            "items": [{"sku": "CB-004", "quantity": 1}],
            "paymentToken": "tok_visa",
            # The bench user never registers: the order names where it ships.
            "shippingAddress": SHIPPING_ADDRESS,
        },
    )
    assert status == 202, placed
    while True:
        order = http("GET", f"{cloud.api_url}/orders/{placed['orderId']}", token)[1]
        if order["status"] != "PENDING":
            assert order["status"] == "CONFIRMED", order
            return time.monotonic() - started
        time.sleep(0.02)


def measure() -> dict[str, Any]:
    load_before = os.getloadavg()
    healthy = [time_to_healthy() for _ in range(3)]
    print(f"make run -> healthy API: median {statistics.median(healthy):.2f} s  {healthy}")

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_noop.py").write_text(NOOP_HANDLER)
        overhead, p50, p95 = warm_overhead_ms(Path(tmp), 500)
    print(f"warm overhead per invocation: {overhead:.2f} ms (invoke p50 {p50:.2f}, p95 {p95:.2f})")

    with tempfile.TemporaryDirectory() as tmp, localcloud_process(Path(tmp)) as cloud:
        admin, user = cloud.token("bench-admin", admin=True), cloud.token("bench-user")
        http(
            "PUT",
            f"{cloud.api_url}/products/CB-004",
            admin,
            {"name": "USB-C cable", "priceCents": 900, "currency": "EUR", "stock": 1000},
        )
        timings = [order_to_confirmed(cloud, user) for _ in range(ORDERS)]
        print(
            f"POST /orders -> CONFIRMED: first {timings[0]:.2f} s (cold functions), "
            f"then median {statistics.median(timings[1:]):.2f} s warm"
        )

    with tempfile.TemporaryDirectory() as tmp, localcloud_process(Path(tmp)) as cloud:
        print(f"{'function':34} {'cold ms':>9} {'warm ms':>9}")
        functions = cold_and_warm(cloud)
        for function, (cold_ms, warm_ms) in functions.items():
            print(f"{function:34} {cold_ms:9.1f} {warm_ms:9.1f}")
    return {
        "command": ".venv/bin/python -m bench.run",
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "healthySeconds": {
            "median": round(statistics.median(healthy), 2),
            "runs": [round(h, 2) for h in healthy],
        },
        "warmOverheadMs": round(overhead, 2),
        "firstOrderSeconds": round(timings[0], 2),
        "warmOrderSeconds": round(statistics.median(timings[1:]), 2),
        "functionsMs": {
            name: {"cold": None if math.isnan(cold) else round(cold, 1), "warm": round(warm, 1)}
            for name, (cold, warm) in functions.items()
        },
        "loadAverage": {"before": load_before, "after": os.getloadavg()},
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--page-only", action="store_true", help="only write docs/performance.md from results"
    )
    args = parser.parse_args()
    if not args.page_only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(measure(), indent=2) + "\n")
    print(f"written to {write_page()}")


if __name__ == "__main__":
    main()
