"""The burst of issue 8: 200 orders from 16 client threads, every one followed to its end.

    .venv/bin/python -m bench.burst                      (starts localcloud like `make run`)
    .venv/bin/python -m bench.burst --aws-url http://127.0.0.1:4566   (a running localcloud)

Seeds 20 products with ample stock and 10 registered customers, then places the orders
(tok_visa, a shipping address on each, an Idempotency-Key so a refused POST can be sent
again), follows each with GET /v1/orders/{id} until it reaches a final status (bounded by
--deadline), and prints and writes (bench/results/burst.json):

- orders/s: orders placed / seconds from the first POST to the last final status;
- POST-to-CONFIRMED p50/p95, from the client's first POST to the order's CONFIRMED entry in
  its history (the service's clock: the poll interval does not add to it);
- p95 latency of GET /v1/orders/{id}; POST latency and how many POSTs were sent again;
- every order's end status; from /_localcloud/status: cold starts, init timeouts, timeouts,
  throttles, invocations and mean duration per function, and the concurrency reached.

Aims (issue 8): 100% CONFIRMED, 0 init timeouts, >= 10 orders/s on 2 cores, POST-to-CONFIRMED
p95 under 5 s. A benchmark, not a test: it reports, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from localcloud.awsclients import AwsClients
from localcloud.cognito.tokens import issue_id_token
from tests.support.localcloud_process import ROOT, localcloud_process

FINAL = {"CONFIRMED", "REJECTED", "NEEDS_ATTENTION", "CANCELLED"}
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
SHIPPING_ADDRESS = {"line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
RESULTS = ROOT / "bench" / "results" / "burst.json"
NAMES = ("Mustermann", "Musterfrau", "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann")


@dataclass
class Target:
    api_url: str
    aws_url: str

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.aws_url}/_localcloud/status", timeout=30) as r:
            status: dict[str, Any] = json.loads(r.read())
            return status

    def token(self, username: str, *, admin: bool = False) -> str:
        pool = self.status()["userPools"][0]
        cognito = AwsClients(self.aws_url).cognito
        return issue_id_token(cognito, pool["id"], pool["clientIds"][0], username, admin=admin)


@dataclass
class Order:
    index: int
    token: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    posted_at: float = 0.0  # wall clock of the first POST
    post_seconds: float = 0.0  # until the 202
    post_attempts: int = 0
    order_id: str | None = None
    post_error: str | None = None
    status: str | None = None
    final_seen_at: float | None = None  # wall clock when the client saw a final status
    confirmed_at: float | None = None  # wall clock of the CONFIRMED history entry


def http(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": token, "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except json.JSONDecodeError:
            return error.code, raw.decode(errors="replace")


def seed(target: Target, products: int, customers: int) -> tuple[list[str], list[str]]:
    admin = target.token("burst-admin", admin=True)
    skus = [f"BURST-{n:03d}" for n in range(1, products + 1)]
    for n, sku in enumerate(skus, start=1):
        status, answer = http(
            "PUT",
            f"{target.api_url}/products/{sku}",
            admin,
            {"name": f"Product {n}", "priceCents": 100 * n, "currency": "EUR", "stock": 10**6},
        )
        if status not in (200, 201):
            raise RuntimeError(f"PUT /products/{sku}: {status} {answer}")
    tokens = []
    for n in range(1, customers + 1):
        username = f"burst-customer-{n:02d}"
        token = target.token(username)
        status, answer = http(
            "POST",
            f"{target.api_url}/customers",
            token,
            {
                "name": f"Erika {NAMES[n % len(NAMES)]}",
                "email": f"{username}@example.com",  # the token's verified email
                "address": SHIPPING_ADDRESS,
            },
        )
        if status not in (200, 201, 409):
            raise RuntimeError(f"POST /customers: {status} {answer}")
        tokens.append(token)
    return skus, tokens


def place(target: Target, order: Order, max_attempts: int = 10) -> None:
    """POST /orders; a refused POST (throttled, 5xx, 409 in progress) is sent again with the
    same Idempotency-Key after a backoff, as a careful client does."""
    order.posted_at = time.time()
    started = time.monotonic()
    delay = 0.2
    for attempt in range(1, max_attempts + 1):
        order.post_attempts = attempt
        status, answer = http(
            "POST",
            f"{target.api_url}/orders",
            order.token,
            order.body,
            {"Idempotency-Key": order.key},
        )
        if status in (201, 202):
            order.order_id = answer["orderId"]
            order.post_seconds = time.monotonic() - started
            return
        if status not in RETRY_STATUSES:
            break
        time.sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, 5.0)
    order.post_error = f"{status} {answer}"


def follow(
    target: Target,
    orders: list[Order],
    deadline: float,
    placed: threading.Event,
    get_latencies: list[float],
    *,
    pollers: int,
    interval: float,
) -> None:
    """GET the open orders in turn until every placed one is final, or the deadline."""
    lock = threading.Lock()
    cursor = 0

    def next_order() -> Order | None:
        nonlocal cursor
        while time.monotonic() < deadline:
            with lock:
                open_orders = [o for o in orders if o.order_id and o.status not in FINAL]
                if open_orders:
                    cursor = (cursor + 1) % len(open_orders)
                    return open_orders[cursor]
            if placed.is_set():
                return None
            time.sleep(0.05)
        return None

    def poll() -> None:
        while (order := next_order()) is not None:
            started = time.monotonic()
            status, answer = http("GET", f"{target.api_url}/orders/{order.order_id}", order.token)
            with lock:
                get_latencies.append(time.monotonic() - started)
                if status == 200 and answer["status"] in FINAL:
                    order.final_seen_at = time.time()
                    order.confirmed_at = _confirmed_at(answer)
                    order.status = answer["status"]
            time.sleep(interval)

    with ThreadPoolExecutor(pollers) as pool:
        for future in [pool.submit(poll) for _ in range(pollers)]:
            future.result()


def _confirmed_at(order: dict[str, Any]) -> float | None:
    for entry in order.get("history", []):
        if entry["status"] == "CONFIRMED":
            return datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
    return None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def function_table(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per function: what changed during the burst."""
    table = {}
    for name, now in after.items():
        was = before.get(name, {})
        delta = {key: now[key] - was.get(key, 0) for key in now if isinstance(now[key], int)}
        if not delta.get("invocations") and not delta.get("throttles"):
            continue
        calls = delta["invocations"] or 1
        table[name] = {
            "invocations": delta["invocations"],
            "cold_starts": delta.get("cold_starts", 0),
            "init_timeouts": delta.get("init_timeouts", 0),
            "timeouts": delta.get("timeouts", 0),
            "errors": delta.get("errors", 0),
            "throttles": delta.get("throttles", 0),
            "warm_waits": delta.get("warm_waits", 0),
            "mean_ms": round(delta.get("duration_ms_total", 0) / calls, 1),
            "mean_wait_ms": round(delta.get("wait_ms_total", 0) / calls, 1),
            "total_s": round(delta.get("duration_ms_total", 0) / 1000, 1),
            "live_workers": now.get("live_workers"),
        }
    return table


def run(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    skus, tokens = seed(target, args.products, args.customers)
    rng = random.Random(8)
    orders = [
        Order(
            index=n,
            token=tokens[n % len(tokens)],
            body={
                "items": [
                    {"sku": sku, "quantity": rng.randint(1, 3)}
                    for sku in rng.sample(skus, rng.randint(1, 3))
                ],
                "paymentToken": "tok_visa",
                "shippingAddress": SHIPPING_ADDRESS,
            },
        )
        for n in range(args.orders)
    ]
    before = target.status()
    load_before = os.getloadavg()
    started = time.time()
    deadline = time.monotonic() + args.deadline
    get_latencies: list[float] = []
    placed = threading.Event()
    # Clients poll while orders are placed: their GETs are part of the load.
    follower = threading.Thread(
        target=follow,
        args=(target, orders, deadline, placed, get_latencies),
        kwargs={"pollers": args.pollers, "interval": args.poll_interval},
        daemon=True,
    )
    follower.start()
    with ThreadPoolExecutor(args.threads) as pool:
        for future in [pool.submit(place, target, order) for order in orders]:
            future.result()
    placed.set()
    follower.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
    finished = max((o.final_seen_at for o in orders if o.final_seen_at), default=time.time())
    after = target.status()
    load_after = os.getloadavg()

    statuses = Counter(o.status or ("POST failed" if o.post_error else "not final") for o in orders)
    to_confirmed = [o.confirmed_at - o.posted_at for o in orders if o.confirmed_at]
    seen_final = [o.final_seen_at - o.posted_at for o in orders if o.final_seen_at]
    functions = function_table(before["functions"], after["functions"])
    totals = {
        key: sum(row[key] for row in functions.values())
        for key in ("invocations", "cold_starts", "init_timeouts", "timeouts", "throttles")
    }
    elapsed = finished - started
    return {
        "orders": args.orders,
        "threads": args.threads,
        "elapsedSeconds": round(elapsed, 2),
        "ordersPerSecond": round(statuses.get("CONFIRMED", 0) / elapsed, 2) if elapsed else None,
        "endStatuses": dict(statuses),
        "postToConfirmedSeconds": _summary(to_confirmed),
        "postToFinalSeenSeconds": _summary(seen_final),
        "postSeconds": _summary([o.post_seconds for o in orders if o.order_id]),
        "postsSentAgain": sum(o.post_attempts - 1 for o in orders),
        "postErrors": [o.post_error for o in orders if o.post_error][:10],
        "getOrderSeconds": _summary(get_latencies),
        "gets": len(get_latencies),
        "lambda": totals,
        "lambdaConcurrency": after.get("lambdaConcurrency"),
        "functions": dict(sorted(functions.items(), key=lambda kv: -kv[1]["total_s"])),
        "eventSources": after.get("eventSources"),
        "loadAverage": {"before": load_before, "after": load_after},
        "cpus": os.cpu_count(),
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "n": len(values),
        "p50": rounded(statistics.median(values)) if values else None,
        "p95": rounded(percentile(values, 95)),
        "max": rounded(max(values)) if values else None,
    }


def report(result: dict[str, Any]) -> None:
    confirmed = result["postToConfirmedSeconds"]
    final = result["postToFinalSeenSeconds"]
    get = result["getOrderSeconds"]
    lines = [
        f"{result['orders']} orders from {result['threads']} threads: "
        f"{result['elapsedSeconds']} s from the first POST to the last final status",
        f"  CONFIRMED orders/s   {result['ordersPerSecond']}",
        f"  end statuses         {result['endStatuses']}",
        f"  POST -> CONFIRMED    p50 {confirmed['p50']} s  p95 {confirmed['p95']} s  "
        f"max {confirmed['max']} s",
        f"  POST -> final seen   p50 {final['p50']} s  p95 {final['p95']} s",
        f"  GET /orders/{{id}}     p50 {get['p50']} s  p95 {get['p95']} s  ({result['gets']} GETs)",
        f"  POST /orders         p95 {result['postSeconds']['p95']} s, "
        f"sent again {result['postsSentAgain']} times",
        f"  lambda               {result['lambda']}",
        f"  concurrency          {result['lambdaConcurrency']}",
        f"  load average         {result['loadAverage']} ({result['cpus']} cpus)",
        f"  {'function':36} {'calls':>6} {'cold':>5} {'initTO':>6} {'TO':>4} {'thr':>5} "
        f"{'waits':>5} {'mean ms':>8} {'wait ms':>8} {'total s':>8}",
    ]
    lines += [
        f"  {name:36} {row['invocations']:6} {row['cold_starts']:5} {row['init_timeouts']:6} "
        f"{row['timeouts']:4} {row['throttles']:5} {row['warm_waits']:5} {row['mean_ms']:8} "
        f"{row['mean_wait_ms']:8} {row['total_s']:8}"
        for name, row in result["functions"].items()
    ]
    print("\n".join(lines))


@contextmanager
def target_for(args: argparse.Namespace) -> Iterator[Target]:
    if args.aws_url:
        status = Target("", args.aws_url).status()
        yield Target(status["apiUrl"], args.aws_url)
        return
    with tempfile.TemporaryDirectory() as tmp, localcloud_process(Path(tmp)) as cloud:
        yield Target(cloud.api_url, cloud.aws_url)
        if args.keep_log:
            Path(args.keep_log).write_text(cloud.log())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws-url", help="a running localcloud's AWS endpoint (else start one)")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--pollers", type=int, default=2, help="threads following orders")
    parser.add_argument(
        "--poll-interval", type=float, default=0.25, help="each follower's pause between GETs"
    )
    parser.add_argument("--deadline", type=float, default=600, help="seconds to wait at most")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep-log", help="copy the started localcloud's log here")
    args = parser.parse_args()
    with target_for(args) as target:
        result = run(target, args)
    report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
