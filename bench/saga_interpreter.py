"""CPU of Step Functions' interpreter per order saga execution, inside localcloud.

    .venv/bin/python -m bench.saga_interpreter [--orders 40] [--clients 2] [--profile]

Starts localcloud in this process (the repository's template, IAM on, as `make run` starts
it, on free ports), places --warm-up orders unmeasured (the workers warm, the definition
parsed), then --orders more from --clients threads, each followed to its final status. The
target of every thread moto's interpreter starts for an execution (the execution's worker,
its program, a Task state's evaluation, where the Lambda Invoke and the DynamoDB and SQS
calls are answered in-process) is timed with `time.thread_time`, in whatever thread runs it;
the figure is their CPU over the executions measured (a new thread's start is counted in the
thread that starts it; its bootstrap and exit are not). Per-thread CPU is the only figure here
that holds on a busy shared machine: wall time and the process's CPU also count the client
threads of this benchmark.

`--profile`: each of those targets runs under its own cProfile, and the merged profile of
the measured executions is printed (cumulative and own time) and written to
/tmp/saga_interpreter.prof. Profiling slows Python code unevenly; compare CPU figures only
from runs without it.

A benchmark, not a test: it reports, it does not assert.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import logging
import pstats
import random
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.load import Order, Target, card_orders, place_and_follow, seed
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.logs.feed import log_to_file
from tests.support.localcloud_process import ROOT
from tests.support.shop import ROOMY_CLIENT_LIMITS

PROFILE_PATH = Path("/tmp/saga_interpreter.prof")
_in_target = threading.local()  # .kind: the interpreter's thread target running here, if any


class _Meter:
    """CPU seconds of the interpreter's threads that ended, per kind of thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu: dict[str, float] = defaultdict(float)
        self.threads: Counter[str] = Counter()
        self.profile: pstats.Stats | None = None
        self.profiling = False
        self.measuring = False

    def reset(self, *, measuring: bool, profiling: bool) -> None:
        with self.lock:
            self.cpu.clear()
            self.threads.clear()
            self.profile = None
            self.measuring = measuring
            self.profiling = profiling

    def run(self, kind: str, target: Any) -> None:
        profiler = cProfile.Profile(time.thread_time) if self.profiling else None
        started = time.thread_time()
        _in_target.kind = kind
        try:
            if profiler is not None:
                profiler.runcall(target)
            else:
                target()
        finally:
            _in_target.kind = None
            used = time.thread_time() - started
            with self.lock:
                if self.measuring:
                    self.cpu[kind] += used
                    self.threads[kind] += 1
                    if profiler is not None:
                        if self.profile is None:
                            self.profile = pstats.Stats(profiler)
                        else:
                            self.profile.add(profiler)


METER = _Meter()


class _GcMeter:
    """Seconds spent in the cyclic garbage collector, per generation, in any thread: a
    collection runs in whichever thread allocated past the threshold (often an interpreter
    thread: a program copy allocates thousands of objects) and costs what the whole heap
    costs to scan, not what that thread did."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = defaultdict(float)
        self.count: Counter[int] = Counter()
        self.in_interpreter = 0.0
        self._started = 0.0

    def reset(self) -> None:
        self.seconds.clear()
        self.count.clear()
        self.in_interpreter = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        used = time.thread_time() - self._started
        self.seconds[info["generation"]] += used
        self.count[info["generation"]] += 1
        if getattr(_in_target, "kind", None):
            self.in_interpreter += used


GC = _GcMeter()


def _measuring(kind: str, make: Any) -> Any:
    """`make` (a Thread class, or what localcloud put in its place) whose targets are timed
    as `kind`, in whatever thread runs them."""

    def factory(
        *positional: Any,
        target: Any = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        **rest: Any,
    ) -> Any:
        def measured() -> None:
            METER.run(kind, lambda: target(*args, **(kwargs or {})))

        return make(*positional, target=measured, **rest)

    return factory


def instrument() -> None:
    """Time the targets of the threads moto's interpreter starts for a saga (the three places
    that start them), once localcloud has installed its own patches."""
    import types

    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.backend import execution_worker

    execution_worker.Thread = _measuring("execution", execution_worker.Thread)  # type: ignore[misc]
    # program.py calls threading.Thread: give that module a namespace with the measured one
    program.threading = types.SimpleNamespace(  # type: ignore[assignment]
        Thread=_measuring("program", threading.Thread)
    )
    execute_state.Thread = _measuring("task", execute_state.Thread)  # type: ignore[misc]


@contextmanager
def in_process_localcloud(logs_dir: Path) -> Iterator[Target]:
    """localcloud as `make run` starts it (logging as its --feed sets it: into a file)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log_to_file(logs_dir / "localcloud.log", "INFO")
    settings = LocalCloudSettings(
        template=ROOT / "template.yaml",
        api_port=0,
        aws_port=0,
        provider_port=0,
        xray_port=0,
        parameter_overrides=dict(ROOMY_CLIENT_LIMITS),
        logs_dir=logs_dir,
    )
    with LocalCloud(settings) as cloud:
        status = cloud.status()
        yield Target(status["apiUrl"], status["awsUrl"])


def _follow(target: Target, orders: list[Order], clients: int) -> None:
    place_and_follow(
        target,
        orders,
        threads=clients,
        deadline=time.monotonic() + 600,
        pollers=2,
        interval=0.2,
    )


def _wait_for_threads(expected_executions: int, timeout: float = 30.0) -> None:
    """An execution's threads end a moment after its order's final status is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with METER.lock:
            if METER.threads["execution"] >= expected_executions:
                return
        time.sleep(0.1)


def measure(target: Target, args: argparse.Namespace) -> list[dict[str, Any]]:
    skus, tokens = seed(target, 10, 4)
    rng = random.Random(8)
    METER.reset(measuring=False, profiling=False)
    _follow(target, card_orders(tokens, skus, args.warm_up, rng), args.clients)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    rounds = []
    for round_number in range(1, args.rounds + 1):
        time.sleep(1.0)  # the warm-up's (or last round's) threads end
        METER.reset(measuring=True, profiling=args.profile)
        GC.reset()
        orders = card_orders(tokens, skus, args.orders, rng)
        _follow(target, orders, args.clients)
        _wait_for_threads(args.orders)
        with METER.lock:
            executions = METER.threads["execution"]
            cpu = dict(METER.cpu)
            threads = dict(METER.threads)
            profile = METER.profile
            METER.measuring = False
        statuses = Counter(o.status or "not final" for o in orders)
        total = sum(cpu.values())
        result = {
            "round": round_number,
            "executions": executions,
            "endStatuses": dict(statuses),
            "cpuMsPerExecution": round(1000 * total / max(executions, 1), 2),
            # the same without the collector's passes that ran in those threads: they cost
            # what the whole heap costs to scan, and come in bursts (a full one ~1 s here)
            "cpuMsPerExecutionWithoutGc": round(
                1000 * (total - GC.in_interpreter) / max(executions, 1), 2
            ),
            "cpuMsPerExecutionByThread": {
                kind: round(1000 * seconds / max(executions, 1), 2) for kind, seconds in cpu.items()
            },
            "threads": threads,
            # the collector's time in the round (any thread), and how much of it in
            # interpreter threads (counted in cpuMsPerExecution above)
            "gcMsByGeneration": {g: round(1000 * t) for g, t in sorted(GC.seconds.items())},
            "gcCollections": dict(sorted(GC.count.items())),
            "gcTrackedObjects": len(gc.get_objects()),
            "gcMsPerExecutionInInterpreter": round(
                1000 * GC.in_interpreter / max(executions, 1), 2
            ),
        }
        print(json.dumps(result))
        rounds.append(result)
        if profile is not None:
            _print_profile(profile, executions)
    return rounds


def _print_profile(profile: pstats.Stats, executions: int) -> None:
    profile.dump_stats(str(PROFILE_PATH))
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(str(PROFILE_PATH), stream=out).sort_stats(order).print_stats(45)
        print(f"--- profile of {executions} executions, by {order} ({PROFILE_PATH})")
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40, help="orders measured per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2, help="threads placing orders")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up: what the collector would cost without scanning "
        "the objects made until then (models, moto, the template's resources)",
    )
    args = parser.parse_args()
    gc.callbacks.append(GC)
    with tempfile.TemporaryDirectory() as tmp, in_process_localcloud(Path(tmp)) as target:
        instrument()
        rounds = measure(target, args)
    summary = {}
    for key in ("cpuMsPerExecution", "cpuMsPerExecutionWithoutGc"):
        values = [r[key] for r in rounds]
        summary[key] = {
            "rounds": values,
            "median": round(statistics.median(values), 2),
            "min": min(values),
            "max": max(values),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
