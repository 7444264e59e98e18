"""What the load benchmarks share (bench.burst, bench.soak): the shop's API as a client sees
it: seeding a catalog and customers, placing orders as a careful client does, following them
to a final status, and summarising latencies and the functions' work."""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from localcloud.awsclients import AwsClients
from localcloud.cognito.tokens import issue_id_token

FINAL = {"CONFIRMED", "REJECTED", "NEEDS_ATTENTION", "CANCELLED"}
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
SHIPPING_ADDRESS = {"line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
NAMES = ("Mustermann", "Musterfrau", "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann")


@dataclass
class Target:
    api_url: str
    aws_url: str

    def status(self) -> dict[str, Any]:
        return self._localcloud("status")

    def aws_calls(self) -> dict[str, int]:
        """AWS API requests so far, per service:Operation (localcloud's billing meter)."""
        calls: dict[str, int] = self._localcloud("billing").get("calls", {})
        return calls

    def _localcloud(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.aws_url}/_localcloud/{path}", timeout=30) as r:
            answer: dict[str, Any] = json.loads(r.read())
            return answer

    def token(self, username: str, *, admin: bool = False) -> str:
        pool = self.status()["userPools"][0]
        cognito = AwsClients(self.aws_url).cognito
        return issue_id_token(cognito, pool["id"], pool["tokenClientId"], username, admin=admin)


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
    final_at: float | None = None  # wall clock of the final status's history entry
    reason: str | None = None  # why it ended as it did (REJECTED, NEEDS_ATTENTION), if said


def card_orders(tokens: list[str], skus: list[str], count: int, rng: random.Random) -> list[Order]:
    """`count` orders, the customers' tokens in turn: 1 to 3 of the SKUs, 1 to 3 of each, paid
    with tok_visa and shipped to SHIPPING_ADDRESS (the burst's and the saga benchmark's)."""
    return [
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
        for n in range(count)
    ]


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


AMPLE_STOCK = 10**6


def seed(target: Target, products: int, customers: int) -> tuple[list[str], list[str]]:
    """`products` SKUs with ample stock and `customers` registered customers' tokens."""
    admin = target.token("burst-admin", admin=True)
    skus = [f"BURST-{n:03d}" for n in range(1, products + 1)]
    for n, sku in enumerate(skus, start=1):
        put_product(target, admin, sku, price_cents=100 * n, stock=AMPLE_STOCK)
    tokens = [register_customer(target, f"burst-customer-{n:02d}") for n in range(1, customers + 1)]
    return skus, tokens


def put_product(target: Target, admin: str, sku: str, *, price_cents: int, stock: int) -> None:
    status, answer = http(
        "PUT",
        f"{target.api_url}/products/{sku}",
        admin,
        {"name": f"Product {sku}", "priceCents": price_cents, "currency": "EUR", "stock": stock},
    )
    if status not in (200, 201):
        raise RuntimeError(f"PUT /products/{sku}: {status} {answer}")


def register_customer(target: Target, username: str) -> str:
    """The customer's token, once they are registered with the token's verified email."""
    token = target.token(username)
    status, answer = http(
        "POST",
        f"{target.api_url}/customers",
        token,
        {
            "name": f"Erika {NAMES[sum(map(ord, username)) % len(NAMES)]}",
            "email": f"{username}@example.com",  # the token's verified email
            "address": SHIPPING_ADDRESS,
        },
    )
    if status not in (200, 201, 409):
        raise RuntimeError(f"POST /customers: {status} {answer}")
    return token


def send(
    method: str,
    url: str,
    token: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    max_attempts: int = 10,
) -> tuple[int, Any, int]:
    """(status, answer, attempts): a refused request (throttled, 5xx, 409 in progress) is sent
    again after a backoff with full jitter, as a careful client does."""
    delay = 0.2
    for attempt in range(1, max_attempts + 1):
        status, answer = http(method, url, token, body, headers)
        if status not in RETRY_STATUSES or attempt == max_attempts:
            return status, answer, attempt
        time.sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def place(target: Target, order: Order, max_attempts: int = 10) -> None:
    """POST /orders, sent again with the same Idempotency-Key while it is refused."""
    order.posted_at = time.time()
    started = time.monotonic()
    status, answer, order.post_attempts = send(
        "POST",
        f"{target.api_url}/orders",
        order.token,
        order.body,
        {"Idempotency-Key": order.key},
        max_attempts=max_attempts,
    )
    if status in (201, 202):
        order.order_id = answer["orderId"]
        order.post_seconds = time.monotonic() - started
        return
    order.post_error = f"{status} {answer}"


def place_and_follow(
    target: Target,
    orders: list[Order],
    *,
    threads: int,
    deadline: float,
    pollers: int,
    interval: float,
) -> list[float]:
    """Place every order from `threads` threads while `pollers` clients follow the open ones
    (their GETs are part of the load) until each is final or the deadline; the GETs' seconds."""
    get_latencies: list[float] = []
    placed = threading.Event()
    follower = threading.Thread(
        target=follow,
        args=(target, orders, deadline, placed, get_latencies),
        kwargs={"pollers": pollers, "interval": interval},
        daemon=True,
    )
    follower.start()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(place, target, order) for order in orders]:
            future.result()
    placed.set()
    follower.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
    return get_latencies


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
                    order.confirmed_at = confirmed_time(answer)
                    order.final_at = status_time(answer, answer["status"])
                    order.status = answer["status"]
                    order.reason = (answer.get("history") or [{}])[-1].get("reason")
            time.sleep(interval)

    with ThreadPoolExecutor(pollers) as pool:
        for future in [pool.submit(poll) for _ in range(pollers)]:
            future.result()


def confirmed_time(order: dict[str, Any]) -> float | None:
    """When the order became CONFIRMED (epoch seconds, the service's clock), from its history."""
    return status_time(order, "CONFIRMED")


def status_time(order: dict[str, Any], status: str) -> float | None:
    """When the order reached `status` (epoch seconds, the service's clock), from its history."""
    for entry in order.get("history", []):
        if entry["status"] == status:
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


def summary(values: list[float]) -> dict[str, float | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "n": len(values),
        "p50": rounded(statistics.median(values)) if values else None,
        "p95": rounded(percentile(values, 95)),
        "max": rounded(max(values)) if values else None,
    }


def process_tree_cpu(pid: int, dynamodb_pid: int | None = None) -> dict[str, float]:
    """CPU seconds (user + system) used so far by localcloud's process, its DynamoDB process
    (`dynamodb_pid`, localcloud.dynamodb.process) and its workers:
    the live descendants, plus those already ended (the kernel adds a reaped child's time to
    its parent's). Unlike wall time, this barely moves when the machine is busy with other
    work, so a run's CPU per order compares across runs. Linux only (/proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, list[int]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # ended while listed
            continue
        # after "pid (comm)": state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        stats[int(entry)] = (int(fields[1]), [int(value) for value in fields[11:15]])
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    own = stats.get(pid, (0, [0, 0, 0, 0]))[1]
    workers = own[2] + own[3]
    pending = [child for child in children.get(pid, []) if child != dynamodb_pid]
    while pending:
        child = pending.pop()
        workers += sum(stats[child][1])
        pending += children.get(child, [])
    me = os.times()
    parts = {
        "localcloud": (own[0] + own[1]) / ticks,
        "workers": workers / ticks,
        "client": me.user + me.system,  # this benchmark's own process: the load it generates
    }
    if dynamodb_pid is not None:  # localcloud's DynamoDB process (no children)
        parts["dynamodb"] = sum(stats.get(dynamodb_pid, (0, [0, 0, 0, 0]))[1][:2]) / ticks
    return parts


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat): how
    much of the machine a run used, whoever used it."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / ticks, sum(values) / ticks


class MachineCpuSampler:
    """Samples `machine_cpu` twice a second, to tell how busy the cores were over a stretch
    of wall-clock time known only afterwards (e.g. up to the last order's final status)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (wall clock, busy, total)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MachineCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), *machine_cpu()))

    def _run(self) -> None:
        while True:
            self.samples.append((time.time(), *machine_cpu()))
            if self._stop.wait(self._interval):
                return

    def busy_between(self, start: float, end: float) -> float | None:
        """The share of the cores busy from the last sample at or before `start` to the first
        at or after `end` (None without two such samples)."""
        before = [sample for sample in self.samples if sample[0] <= start]
        after = [sample for sample in self.samples if sample[0] >= end]
        if not before or not after:
            return None
        (_, busy0, total0), (_, busy1, total1) = before[-1], after[0]
        return round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else None


def running_target(aws_url: str) -> Target:
    """A localcloud someone else started, found from its AWS endpoint's status."""
    return Target(Target("", aws_url).status()["apiUrl"], aws_url)


def write_result(path: Path, result: dict[str, Any]) -> None:
    """A benchmark's result as JSON (bench/results/ by default), and where it went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")
