"""Warm overhead and cold start of localcloud's LambdaRuntime, with a no-op handler.

    .venv/bin/python -m bench.runtime_overhead [invocations]

Warm overhead = mean invoke() wall time minus the mean time the handler itself took
(measured inside the handler), over warm invocations of one worker.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from localcloud.lambda_.runtime import LambdaRuntime
from localcloud.spec import FunctionSpec

NOOP_HANDLER = """
import time


def handler(event, context):
    started = time.perf_counter()
    return {"handler_ms": (time.perf_counter() - started) * 1000}
"""
COLD_SAMPLES = 5


def _runtime(code_dir: Path) -> LambdaRuntime:
    spec = FunctionSpec(
        logical_id="NoopFunction",
        handler="bench_noop.handler",
        code_dir=code_dir,
        layer_dirs=(),
        timeout_seconds=3,
        memory_mb=128,
        environment={},
    )
    return LambdaRuntime({spec.name: spec}, {})


def warm_overhead_ms(code_dir: Path, invocations: int) -> tuple[float, float, float]:
    """(mean overhead, p50 invoke, p95 invoke) in ms."""
    with _runtime(code_dir) as runtime:
        for _ in range(10):  # the cold start and a few warm-ups
            runtime.invoke("NoopFunction", b"{}")
        walls, handler_times = [], []
        for _ in range(invocations):
            result = runtime.invoke("NoopFunction", b'{"ping": 1}')
            walls.append(result.duration_ms)
            handler_times.append(json.loads(result.payload)["handler_ms"])
    overhead = statistics.fmean(walls) - statistics.fmean(handler_times)
    return overhead, statistics.median(walls), statistics.quantiles(walls, n=20)[18]


def cold_start_ms(code_dir: Path) -> float:
    """Median duration of a first invocation (new worker), over a few fresh runtimes."""
    samples = []
    for _ in range(COLD_SAMPLES):
        with _runtime(code_dir) as runtime:
            result = runtime.invoke("NoopFunction", b"{}")
            assert result.cold_start
            samples.append(result.duration_ms)
    return statistics.median(samples)


def main() -> None:
    invocations = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        code_dir = Path(tmp)
        (code_dir / "bench_noop.py").write_text(NOOP_HANDLER)
        started = time.perf_counter()
        overhead, p50, p95 = warm_overhead_ms(code_dir, invocations)
        cold = cold_start_ms(code_dir)
        total = time.perf_counter() - started
    print(f"warm overhead per invocation: {overhead:.3f} ms (mean over {invocations})")
    print(f"warm invoke() wall time: p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(f"cold start (first invocation, no-op handler): {cold:.1f} ms (median of {COLD_SAMPLES})")
    print(f"benchmark took {total:.1f} s")


if __name__ == "__main__":
    main()
