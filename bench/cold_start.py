"""Cold init of every function, as Lambda's init phase does it, against a floor and a reference.

    make bench-cold                       (= .venv/bin/python -m bench.cold_start)
    .venv/bin/python -m bench.cold_start --reference ~/src/aws-serverless-ecommerce-platform

Each sample is a fresh interpreter from the Lambda runtime environment `make runtime` builds
(.localcloud/lambda-runtime/venv/bin/python: awslambdaric and boto3 only), with the function's
environment as localcloud gives its workers (the template's variables as a running localcloud
resolves them, PYTHONPATH = the function's code dir + the built layer + its source), timing
`import <handler module>` and the handler lookup: what Lambda's init phase runs for a Python
function, minus the runtime's own bootstrap (the same for every function). Samples are taken
in rounds, one per function and per baseline each round, so a noisy moment hits everyone.

Two baselines in the same run:
- the floor: `import boto3` and one client (dynamodb) in the same runtime interpreter, the least
  a function that talks to AWS can import; and the same with the cyclic collector paused and the
  result frozen, as the handler modules do it (shop_shared.coldstart), so "above floor" can be
  read either way;
- the reference: aws-samples/aws-serverless-ecommerce-platform's orders `create_order`
  (Powertools v1, jsonschema, requests, boto3), given with --reference PATH (a clone). Its
  requirements.txt is installed as `sam build` would (pip install --target) beside a venv of the
  same runtime packages, under .localcloud/bench/reference/ (rebuilt when the file changes). The
  clone is never copied into the project.

Writes bench/results/cold_start.json and bench/results/cold_start.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.provenance import commit, machine
from bench.started import started_localcloud
from localcloud.cloud import read_status, worker_base_environment
from localcloud.cloudformation.template import Template
from localcloud.lambda_.environment import REQUIREMENTS_FILE, RuntimeEnvironment, worker_environment
from localcloud.spec import FunctionSpec
from tests.support.localcloud_process import ROOT

ROUNDS = 5
RESULTS = ROOT / "bench" / "results"
REFERENCE_DIR = ROOT / ".localcloud" / "bench" / "reference"
REFERENCE_FUNCTION = Path("orders/src/create_order")
REFERENCE_URL = "https://github.com/aws-samples/aws-serverless-ecommerce-platform"
# What orders/template.yaml gives CreateOrderFunction (Globals + its own), with local values:
# main.py reads them at import.
REFERENCE_VARIABLES = {
    "ENVIRONMENT": "dev",
    "EVENT_BUS_NAME": "EventBus",
    "TABLE_NAME": "OrdersTable",
    "POWERTOOLS_SERVICE_NAME": "orders",
    "POWERTOOLS_TRACE_DISABLED": "false",
    "LOG_LEVEL": "INFO",
    "DELIVERY_API_URL": "https://delivery.example.com/prod",
    "PAYMENT_API_URL": "https://payment.example.com/prod",
    "PRODUCTS_API_URL": "https://products.example.com/prod",
}
FLOOR = "__floor__"
REFERENCE = "__reference__"

# Runs in the fresh interpreter: the init phase's import, timed from inside. Prints the wall
# time and the process's CPU time (ms): on a loaded machine the wall time also counts the
# waits for a core, the CPU time much less so (imports are CPU-bound once files are cached).
IMPORT_HANDLER = """\
import sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import importlib
module_name, _, attribute = sys.argv[1].rpartition(".")
getattr(importlib.import_module(module_name), attribute)
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000)
"""
IMPORT_FLOOR = """\
import time
started, cpu_started = time.perf_counter(), time.process_time()
import boto3
boto3.client("dynamodb")
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000)
"""
IMPORT_FLOOR_PAUSED = """\
import time
started, cpu_started = time.perf_counter(), time.process_time()
import gc
gc.disable()
import boto3
boto3.client("dynamodb")
gc.freeze()
gc.enable()
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000)
"""


@dataclass(frozen=True)
class Target:
    name: str
    python: Path
    script: str
    argument: str
    environment: dict[str, str]
    cwd: Path


def sample_ms(target: Target) -> tuple[float, float]:
    """One cold init: (wall ms, CPU ms)."""
    result = subprocess.run(
        [str(target.python), "-c", target.script, target.argument],
        env=target.environment,
        cwd=target.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{target.name}: init failed\n{result.stderr[-3000:]}")
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def import_budget(target: Target, top: int = 25) -> str:
    """The modules that cost the most to import (cumulative, microseconds), one init."""
    result = subprocess.run(
        [str(target.python), "-X", "importtime", "-c", target.script, target.argument],
        env=target.environment,
        cwd=target.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():  # "import time: <own> | <cumulative> | <name>"
        own, cumulative, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():
            rows.append((int(cumulative), int(own), name.rstrip()))
    rows.sort(reverse=True)
    wall = result.stdout.strip().split()[0]
    lines = [f"== {target.name}: {float(wall):.0f} ms (without -X importtime's own cost)"]
    lines += [
        f"{cumulative / 1000:8.1f} ms {own / 1000:7.1f} ms  {name}"
        for cumulative, own, name in rows[:top]
    ]
    return "\n".join(lines)


def function_targets(runtime: RuntimeEnvironment, aws_url: str) -> list[Target]:
    """Every AWS::Lambda::Function of the template, with the environment localcloud's worker
    for it gets (the template's variables as the running localcloud resolved them)."""
    environments: dict[str, dict[str, str]] = read_status(aws_url, timeout=30)["environments"]
    template = Template.load(ROOT / "template.yaml")
    template.register_function_identities()  # the layers' ARNs; the rest is the status's
    layers = template.layer_dirs()
    base = worker_base_environment(aws_url)
    targets = []
    for logical_id, properties in template.of_type("AWS::Lambda::Function"):
        spec = FunctionSpec(
            logical_id=logical_id,
            handler=properties["Handler"],
            code_dir=template.local_path(properties["Code"]),
            layer_dirs=tuple(layers[arn] for arn in template.resolve(properties.get("Layers", []))),
            timeout_seconds=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            environment=environments[logical_id],
            runtime=str(properties["Runtime"]),
        )
        environment = worker_environment(spec, base, runtime)
        targets.append(
            Target(
                logical_id, runtime.python, IMPORT_HANDLER, spec.handler, environment, spec.code_dir
            )
        )
    return sorted(targets, key=lambda target: target.name)


def before_targets(targets: list[Target], revision: str, tree: Path) -> list[Target]:
    """The same functions as they were at `revision` (its functions/ and layers/ in `tree`),
    with the same environment, minus the tracing switch if that template had none."""
    archive = subprocess.run(
        ["git", "archive", revision, "functions", "layers"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    tree.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    old_template = subprocess.run(
        ["git", "show", f"{revision}:template.yaml"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()

    def moved(value: str) -> str:
        for folder in ("functions", "layers"):
            value = value.replace(str(ROOT / folder), str(tree / folder))
        return value

    before = []
    for target in targets:
        environment = {name: moved(value) for name, value in target.environment.items()}
        if "POWERTOOLS_TRACE_DISABLED" not in old_template:
            environment.pop("POWERTOOLS_TRACE_DISABLED", None)
        before.append(
            Target(
                f"{target.name} @{revision}",
                target.python,
                target.script,
                target.argument,
                environment,
                Path(moved(str(target.cwd))),
            )
        )
    return before


def floor_target(runtime: RuntimeEnvironment, aws_url: str, *, paused: bool = False) -> Target:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update({"TZ": ":UTC", **worker_base_environment(aws_url)})
    if paused:
        return Target("floor, collector paused", runtime.python, IMPORT_FLOOR_PAUSED, "", env, ROOT)
    return Target("floor: boto3 + 1 client", runtime.python, IMPORT_FLOOR, "", env, ROOT)


def reference_target(clone: Path, aws_url: str) -> Target:
    """The reference's create_order, its requirements installed as sam build would."""
    code_dir = clone / REFERENCE_FUNCTION
    requirements = code_dir / "requirements.txt"
    if not requirements.is_file():
        raise SystemExit(f"{clone} is not a clone of {REFERENCE_URL} (no {requirements})")
    python = REFERENCE_DIR / "venv" / "bin" / "python"
    build = REFERENCE_DIR / "build"
    stamp = REFERENCE_DIR / "requirements.txt"
    wanted = requirements.read_text() + REQUIREMENTS_FILE.read_text()
    if not stamp.is_file() or stamp.read_text() != wanted:
        print(f"building the reference's environment in {REFERENCE_DIR} (once) ...", flush=True)
        shutil.rmtree(REFERENCE_DIR, ignore_errors=True)
        base_python = shutil.which("python3") or sys.executable
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([base_python, "-m", "venv", str(REFERENCE_DIR / "venv")], check=True)
        # The same runtime packages as ours (/var/runtime), then the function's own, as
        # `sam build` puts them beside its code.
        subprocess.run(
            [*pip, "-c", str(ROOT / "requirements.lock"), "-r", str(REQUIREMENTS_FILE)], check=True
        )
        subprocess.run([*pip, "--target", str(build), "-r", str(requirements)], check=True)
        stamp.write_text(wanted)
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        {
            "TZ": ":UTC",
            **worker_base_environment(aws_url),
            **REFERENCE_VARIABLES,
            "AWS_LAMBDA_FUNCTION_NAME": "CreateOrderFunction",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "768",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.9",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": "main.handler",
            "PYTHONPATH": os.pathsep.join([str(code_dir), str(build)]),
        }
    )
    return Target("reference: create_order", python, IMPORT_HANDLER, "main.handler", env, code_dir)


def measure(
    targets: list[Target], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU samples per target, `rounds` interleaved rounds."""
    samples: dict[str, list[float]] = {target.name: [] for target in targets}
    cpu: dict[str, list[float]] = {target.name: [] for target in targets}
    for number in range(rounds):
        print(f"round {number + 1}/{rounds}", flush=True)
        for target in targets:
            wall_ms, cpu_ms = sample_ms(target)
            samples[target.name].append(wall_ms)
            cpu[target.name].append(cpu_ms)
    return samples, cpu


def _commit() -> str:
    """The commit measured, marked + when the working tree differs from it."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "functions", "layers", "template.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    head = commit()
    return f"{head}+" if dirty and head != "unknown" else head


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def report(
    samples: dict[str, list[float]],
    *,
    cpu: dict[str, list[float]] | None = None,
    functions: list[str],
    floor: str,
    reference: str | None,
    load_before: str,
    load_after: str,
    before: str | None = None,
    paused_floor: str | None = None,
) -> tuple[dict[str, object], str]:
    def row(name: str) -> dict[str, float]:
        values = samples[name]
        return {
            "median_ms": round(statistics.median(values), 1),
            "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1),
            "spread_pct": round(100 * (max(values) - min(values)) / statistics.median(values), 1),
        }

    floor_ms = statistics.median(samples[floor])
    reference_ms = statistics.median(samples[reference]) if reference else None
    cpu = cpu or {}

    def cpu_median(name: str) -> float | None:
        return round(statistics.median(cpu[name]), 1) if cpu.get(name) else None

    rows = {}
    for name in functions:
        entry: dict[str, float | None] = {**row(name), "cpu_median_ms": cpu_median(name)}
        median = statistics.median(samples[name])
        entry["above_floor_ms"] = round(median - floor_ms, 1)
        entry["ratio_to_reference"] = round(median / reference_ms, 2) if reference_ms else None
        if before:
            entry["before_median_ms"] = row(f"{name} @{before}")["median_ms"]
            entry["before_cpu_median_ms"] = cpu_median(f"{name} @{before}")
        rows[name] = entry
    medians = [statistics.median(samples[name]) for name in functions]
    slowest = max(functions, key=lambda name: statistics.median(samples[name]))
    summary: dict[str, object] = {
        "median_function_ms": round(statistics.median(medians), 1),
        "slowest_function": slowest,
        "slowest_function_ms": round(max(medians), 1),
        "floor_ms": round(floor_ms, 1),
        "floor_collector_paused_ms": round(statistics.median(samples[paused_floor]), 1)
        if paused_floor
        else None,
        "reference_ms": round(reference_ms, 1) if reference_ms else None,
        "median_ratio": round(statistics.median(medians) / reference_ms, 2)
        if reference_ms
        else None,
        "slowest_ratio": round(max(medians) / reference_ms, 2) if reference_ms else None,
        "before": before,
        "before_median_function_ms": round(
            statistics.median(
                statistics.median(samples[f"{name} @{before}"]) for name in functions
            ),
            1,
        )
        if before
        else None,
        "before_slowest_function_ms": round(
            max(statistics.median(samples[f"{name} @{before}"]) for name in functions), 1
        )
        if before
        else None,
        "median_spread_pct": round(
            statistics.median(float(rows[name]["spread_pct"] or 0) for name in functions), 1
        ),
    }
    if cpu:
        cpu_medians = [statistics.median(cpu[name]) for name in functions]
        cpu_reference = cpu_median(reference) if reference else None
        cpu_summary_: dict[str, object] = {
            "median_function_ms": round(statistics.median(cpu_medians), 1),
            "slowest_function": max(functions, key=lambda name: statistics.median(cpu[name])),
            "slowest_function_ms": round(max(cpu_medians), 1),
            "floor_ms": cpu_median(floor),
            "floor_collector_paused_ms": cpu_median(paused_floor) if paused_floor else None,
            "reference_ms": cpu_reference,
            "median_ratio": round(statistics.median(cpu_medians) / cpu_reference, 2)
            if cpu_reference
            else None,
            "slowest_ratio": round(max(cpu_medians) / cpu_reference, 2) if cpu_reference else None,
        }
        if before:
            before_cpu = [statistics.median(cpu[f"{name} @{before}"]) for name in functions]
            cpu_summary_["before_median_function_ms"] = round(statistics.median(before_cpu), 1)
            cpu_summary_["before_slowest_function_ms"] = round(max(before_cpu), 1)
        summary["cpu"] = cpu_summary_
    document: dict[str, object] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "commit": _commit(),
        "rounds": len(samples[floor]),
        "command": "python -m bench.cold_start" + (" --reference PATH" if reference else ""),
        "summary": summary,
        "floor": row(floor),
        "floor_collector_paused": row(paused_floor) if paused_floor else None,
        "reference": row(reference) if reference else None,
        "functions": rows,
    }
    ratio_head = "ratio to reference" if reference else "ratio (no reference)"
    lines = [
        f"Cold init (import of the handler module in a fresh Lambda-runtime interpreter), median "
        f"of {len(samples[floor])} interleaved samples, commit {document['commit']}; load "
        f"average {load_before} before, {load_after} after.",
        "",
        f"| function | median ms | spread (max-min)/median | {ratio_head} | above floor ms |"
        + " CPU ms |"
        + (f" before ({before}) ms | before CPU ms |" if before else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if before else ""),
    ]

    def cpu_cell(name: str) -> str:
        value = cpu_median(name)
        return f" {value:.0f} |" if value is not None else " - |"

    for name in sorted(functions, key=lambda name: -statistics.median(samples[name])):
        r = rows[name]
        ratio = f"{r['ratio_to_reference']:.2f}" if r["ratio_to_reference"] is not None else "-"
        lines.append(
            f"| {name} | {r['median_ms']:.0f} | {r['spread_pct']:.0f}% | {ratio} "
            f"| {r['above_floor_ms']:.0f} |"
            + cpu_cell(name)
            + (f" {r['before_median_ms']:.0f} |" + cpu_cell(f"{name} @{before}") if before else "")
        )
    f = row(floor)
    lines.append(
        f"| *{floor}* | {f['median_ms']:.0f} | {f['spread_pct']:.0f}% | | 0 |" + cpu_cell(floor)
    )
    if paused_floor:
        p = row(paused_floor)
        lines.append(
            f"| *{paused_floor}* | {p['median_ms']:.0f} | {p['spread_pct']:.0f}% | "
            f"| {p['median_ms'] - floor_ms:.0f} |" + cpu_cell(paused_floor)
        )
    if reference:
        ref = row(reference)
        lines.append(
            f"| *{reference}* | {ref['median_ms']:.0f} | {ref['spread_pct']:.0f}% | 1.00 "
            f"| {ref['median_ms'] - floor_ms:.0f} |" + cpu_cell(reference)
        )
    lines += [
        "",
        f"Median function {summary['median_function_ms']} ms, slowest "
        f"{summary['slowest_function']} {summary['slowest_function_ms']} ms, floor "
        f"{summary['floor_ms']} ms"
        + (
            f" ({summary['floor_collector_paused_ms']} ms with the collector paused)"
            if paused_floor
            else ""
        )
        + (
            f", reference {summary['reference_ms']} ms: median ratio "
            f"{summary['median_ratio']}, slowest ratio {summary['slowest_ratio']} "
            "(aims: 0.6 and 0.7)."
            if reference
            else "; no reference timed (--reference PATH)."
        )
        + (
            f" At {before}: median function {summary['before_median_function_ms']} ms, "
            f"slowest {summary['before_slowest_function_ms']} ms."
            if before
            else ""
        ),
    ]
    cpu_summary = summary.get("cpu")
    if isinstance(cpu_summary, dict):
        lines += [
            "",
            f"CPU time of the same inits (less sensitive to the machine's load): median function "
            f"{cpu_summary['median_function_ms']} ms, slowest {cpu_summary['slowest_function']} "
            f"{cpu_summary['slowest_function_ms']} ms, floor {cpu_summary['floor_ms']} ms"
            + (
                f" ({cpu_summary['floor_collector_paused_ms']} ms with the collector paused)"
                if paused_floor
                else ""
            )
            + (
                f", reference {cpu_summary['reference_ms']} ms: ratios "
                f"{cpu_summary['median_ratio']} (median) and {cpu_summary['slowest_ratio']} "
                "(slowest)."
                if reference
                else "."
            )
            + (
                f" At {before}: median function {cpu_summary['before_median_function_ms']} ms, "
                f"slowest {cpu_summary['before_slowest_function_ms']} ms."
                if before
                else ""
            ),
        ]
    return document, "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reference", type=Path, help=f"a clone of {REFERENCE_URL} (never copied here)"
    )
    parser.add_argument(
        "--before", metavar="REVISION", help="also time the functions as they were at REVISION"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--importtime",
        nargs="*",
        metavar="FUNCTION",
        help="instead of timing: where each named function's init goes (python -X importtime)",
    )
    args = parser.parse_args(argv)
    runtime = RuntimeEnvironment.default()
    runtime.check()
    if args.reference is None:
        print(
            "no --reference: timing ours alone. For the reference, clone it anywhere outside "
            f"this project (git clone --depth 1 {REFERENCE_URL} /tmp/ecommerce-reference) and "
            "pass --reference /tmp/ecommerce-reference",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp, started_localcloud() as cloud:
        targets = function_targets(runtime, cloud.aws_url)
        if args.importtime is not None:
            for target in targets:
                if target.name in args.importtime or not args.importtime:
                    print(import_budget(target))
            return
        functions = [target.name for target in targets]
        floor = floor_target(runtime, cloud.aws_url)
        if args.before:
            targets += before_targets(targets, args.before, Path(tmp) / "before")
        paused_floor = floor_target(runtime, cloud.aws_url, paused=True)
        targets += [floor, paused_floor]
        reference = None
        if args.reference is not None:
            reference_target_ = reference_target(args.reference.resolve(), cloud.aws_url)
            targets.append(reference_target_)
            reference = reference_target_.name
        for target in targets:  # warm the file cache and the .pyc files: not what we time
            sample_ms(target)
        load_before = load_average()
        started = time.monotonic()
        samples, cpu = measure(targets, args.rounds)
        load_after = load_average()
    document, table = report(
        samples,
        cpu=cpu,
        functions=functions,
        floor=floor.name,
        reference=reference,
        load_before=load_before,
        load_after=load_after,
        before=args.before,
        paused_floor=paused_floor.name,
    )
    document["seconds"] = round(time.monotonic() - started, 1)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "cold_start.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.results / "cold_start.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
