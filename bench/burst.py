"""The burst of issue 8: 200 orders from 16 client threads, every one followed to its end.

    .venv/bin/python -m bench.burst                      (starts localcloud like `make run`)
    .venv/bin/python -m bench.burst --aws-url http://127.0.0.1:4566   (a running localcloud)

Seeds 20 products with ample stock and 10 registered customers, then places the orders
(tok_visa, a shipping address on each, an Idempotency-Key so a refused POST can be sent
again), follows each with GET /v1/orders/{id} until it reaches a final status (bounded by
--deadline), and prints and writes (bench/results/burst.json):

- orders/s: CONFIRMED orders / seconds from the first POST to the last final status (its
  entry in the order's history, the service's clock; the followers' lag is reported apart);
- POST-to-CONFIRMED p50/p95, from the client's first POST to the order's CONFIRMED entry in
  its history (the service's clock: the poll interval does not add to it);
- p95 latency of GET /v1/orders/{id}; POST latency and how many POSTs were sent again;
- every order's end status; from /_localcloud/status: cold starts, init timeouts, timeouts,
  throttles, invocations and mean duration per function, and the concurrency reached;
- AWS requests per order, per operation (localcloud's billing meter: the functions' and
  localcloud's own, e.g. the event source mappings' GetRecords and ReceiveMessage);
- CPU seconds per order of localcloud, of its workers and of this client (from /proc: unlike
  wall time, it compares across runs on a busy machine), how busy the machine's cores were,
  and a per-order timeline (when each was posted, its POST and POST-to-CONFIRMED seconds)
  showing when in the burst the slow ones were.

`--warm-up N` places N orders first, unmeasured, so the burst meets warm workers: from a
cold start the first seconds also pay every function's first cold starts (about 20, each a
few hundred ms of CPU on the same two cores).

Aims (issue 8): 100% CONFIRMED, 0 init timeouts, >= 10 orders/s on 2 cores, POST-to-CONFIRMED
p95 under 5 s. A benchmark, not a test: it reports, it does not assert.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.load import (
    MachineCpuSampler,
    Target,
    card_orders,
    function_table,
    place_and_follow,
    process_tree_cpu,
    running_target,
    seed,
    summary,
    write_result,
)
from tests.support.localcloud_process import ROOT, localcloud_process
from tests.support.shop import ROOMY_CLIENT_LIMITS  # one IP, many orders per customer

RESULTS = ROOT / "bench" / "results" / "burst.json"


def run(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    skus, tokens = seed(target, args.products, args.customers)
    rng = random.Random(8)

    if args.warm_up:  # orders placed and followed to their end first, not measured
        place_and_follow(
            target,
            card_orders(tokens, skus, args.warm_up, rng),
            threads=args.threads,
            deadline=time.monotonic() + args.deadline,
            pollers=args.pollers,
            interval=args.poll_interval,
        )
    orders = card_orders(tokens, skus, args.orders, rng)
    before = target.status()
    calls_before = target.aws_calls()
    cpu_before = process_tree_cpu(before["pid"], _dynamodb_pid(before))
    load_before = os.getloadavg()
    with MachineCpuSampler() as machine:  # its first sample precedes the start
        started = time.time()
        deadline = time.monotonic() + args.deadline
        get_latencies = place_and_follow(
            target,
            orders,
            threads=args.threads,
            deadline=deadline,
            pollers=args.pollers,
            interval=args.poll_interval,
        )
    # The last final status by the service's clock: when a follower happens to GET it adds
    # its polling lag (seconds with 200 orders to follow), which is the client's, not the shop's.
    finished = max(
        (o.final_at or o.final_seen_at for o in orders if o.final_seen_at), default=time.time()
    )
    after = target.status()
    cpu_after = process_tree_cpu(after["pid"], _dynamodb_pid(after))
    calls_after = target.aws_calls()
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
        "warmUpOrders": args.warm_up,
        "elapsedSeconds": round(elapsed, 2),
        "ordersPerSecond": round(statuses.get("CONFIRMED", 0) / elapsed, 2) if elapsed else None,
        "endStatuses": dict(statuses),
        "postToConfirmedSeconds": summary(to_confirmed),
        "postToFinalSeenSeconds": summary(seen_final),
        "postSeconds": summary([o.post_seconds for o in orders if o.order_id]),
        "postsSentAgain": sum(o.post_attempts - 1 for o in orders),
        "postErrors": [o.post_error for o in orders if o.post_error][:10],
        "getOrderSeconds": summary(get_latencies),
        "gets": len(get_latencies),
        "lambda": totals,
        "lambdaConcurrency": after.get("lambdaConcurrency"),
        "functions": dict(sorted(functions.items(), key=lambda kv: -kv[1]["total_s"])),
        "eventSources": after.get("eventSources"),
        "awsCallsPerOrder": {
            operation: round((count - calls_before.get(operation, 0)) / args.orders, 2)
            for operation, count in sorted(calls_after.items(), key=lambda kv: -kv[1])
            if count > calls_before.get(operation, 0)
        },
        # CPU seconds per placed order while the orders ran: the figure that compares across
        # runs on a busy machine (wall time does not).
        "cpuSecondsPerOrder": {
            part: round((cpu_after[part] - cpu_before[part]) / args.orders, 3) for part in cpu_after
        },
        # the share of the machine's cores busy from the first POST to the last final status
        # (anyone's work)
        "machineCpuBusy": machine.busy_between(started, finished),
        "loadAverage": {"before": load_before, "after": load_after},
        # per order, in the order placed: [first POST (s after the start), POST s,
        # POST-to-CONFIRMED s or null], to see when in the burst the slow ones were
        "timeline": [
            [
                round(o.posted_at - started, 2),
                round(o.post_seconds, 2),
                round(o.confirmed_at - o.posted_at, 2) if o.confirmed_at else None,
            ]
            for o in sorted(orders, key=lambda o: o.posted_at)
            if o.order_id
        ],
        "cpus": os.cpu_count(),
    }


def _dynamodb_pid(status: dict[str, Any]) -> int | None:
    """localcloud's DynamoDB process, when it runs one (its CPU is counted apart)."""
    process = status.get("dynamodbProcess")
    return int(process["pid"]) if process else None


def report(result: dict[str, Any]) -> None:
    confirmed = result["postToConfirmedSeconds"]
    final = result["postToFinalSeenSeconds"]
    get = result["getOrderSeconds"]
    warm = f" after {result['warmUpOrders']} warm-up orders" if result["warmUpOrders"] else ""
    lines = [
        f"{result['orders']} orders from {result['threads']} threads{warm}: "
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
        f"  CPU s per order      {result['cpuSecondsPerOrder']}, "
        f"machine busy {result['machineCpuBusy']}",
        f"  AWS calls per order  {sum(result['awsCallsPerOrder'].values()):.1f}: "
        + ", ".join(f"{op} {n}" for op, n in list(result["awsCallsPerOrder"].items())[:10]),
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
        yield running_target(args.aws_url)
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        localcloud_process(Path(tmp), overrides=ROOMY_CLIENT_LIMITS) as cloud,
    ):
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
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        metavar="N",
        help="place N orders first, unmeasured, so that the burst meets warm workers "
        "(default 0: the burst starts on a cold localcloud, as after `make run`)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep-log", help="copy the started localcloud's log here")
    args = parser.parse_args()
    with target_for(args) as target:
        result = run(target, args)
    report(result)
    write_result(args.output, result)


if __name__ == "__main__":
    main()
