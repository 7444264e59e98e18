"""Lambda faults on purpose: a worker killed before or after its handler's side effects, a
timeout after them, a throttle; each seen by the caller as Lambda would report it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.faults.api import parse_rules
from localcloud.faults.rules import FaultRegistry
from localcloud.lambda_.concurrency import ConcurrencySettings, TooManyRequestsException
from localcloud.lambda_.runtime import LambdaRuntime
from localcloud.spec import FunctionSpec

HANDLER = """
import json, os, pathlib

def handler(event, context):
    # the side effect: a line per run, in a file the test reads
    with open(os.environ["SIDE_EFFECTS"], "a") as out:
        out.write(event["id"] + "\\n")
    return {"done": event["id"]}
"""


@pytest.fixture
def side_effects(tmp_path: Path) -> Path:
    return tmp_path / "side_effects.txt"


@pytest.fixture
def runtime(tmp_path: Path, side_effects: Path) -> Iterator[LambdaRuntime]:
    (tmp_path / "fault_probe.py").write_text(textwrap.dedent(HANDLER))
    function = FunctionSpec(
        logical_id="ProbeFunction",
        handler="fault_probe.handler",
        code_dir=tmp_path,
        layer_dirs=(),
        timeout_seconds=5,
        memory_mb=128,
        environment={"SIDE_EFFECTS": str(side_effects)},
    )
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=2, running_limit=10)
    runtime = LambdaRuntime({"ProbeFunction": function}, {}, concurrency=settings)
    yield runtime
    runtime.close()


def inject(runtime: LambdaRuntime, action: str) -> FaultRegistry:
    rule = {"service": "lambda", "function": "ProbeFunction", "action": action, "limit": 1}
    runtime.faults = FaultRegistry(parse_rules(json.dumps([rule])))
    return runtime.faults


def invoke(runtime: LambdaRuntime, order: str) -> tuple[str | None, dict[str, str]]:
    result = runtime.invoke("ProbeFunction", json.dumps({"id": order}).encode())
    return result.function_error, json.loads(result.payload)


def runs(side_effects: Path) -> list[str]:
    return side_effects.read_text().split() if side_effects.exists() else []


def test_kill_before_the_handler_leaves_no_side_effect(
    runtime: LambdaRuntime, side_effects: Path
) -> None:
    faults = inject(runtime, "kill-before")

    error, body = invoke(runtime, "o-1")

    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert runs(side_effects) == []
    assert faults.counts() == {"lambda.kill-before": 1}
    assert invoke(runtime, "o-2") == (None, {"done": "o-2"})  # a new worker runs the next


def test_kill_after_the_handler_keeps_its_side_effect_and_loses_its_answer(
    runtime: LambdaRuntime, side_effects: Path
) -> None:
    inject(runtime, "kill-after")

    error, body = invoke(runtime, "o-1")

    assert (error, body["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert runs(side_effects) == ["o-1"]
    assert runtime.stats()["ProbeFunction"]["live_workers"] == 0


def test_a_timeout_after_the_side_effect_is_reported_as_lambda_reports_it(
    runtime: LambdaRuntime, side_effects: Path
) -> None:
    inject(runtime, "timeout")

    error, body = invoke(runtime, "o-1")

    assert (error, body["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert "Task timed out after 5.00 seconds" in body["errorMessage"]
    assert runs(side_effects) == ["o-1"]
    assert runtime.stats()["ProbeFunction"]["timeouts"] == 1


def test_a_throttle_refuses_the_invocation_before_it_runs(
    runtime: LambdaRuntime, side_effects: Path
) -> None:
    inject(runtime, "throttle")

    with pytest.raises(TooManyRequestsException):
        invoke(runtime, "o-1")

    assert runs(side_effects) == []
    assert runtime.stats()["ProbeFunction"]["throttles"] == 1
    assert invoke(runtime, "o-1") == (None, {"done": "o-1"})
