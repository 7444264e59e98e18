"""A Task state's evaluation runs on a reused thread (localcloud.stepfunctions.task_threads):
each evaluation still has a thread to itself while it runs, and one that outlives its wait
runs on without holding up the others."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import (
    StateParallel,
)

from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.stepfunctions import patches
from localcloud.stepfunctions.task_threads import ReusedThread, _Workers
from tests.support.polling import eventually

BRANCH = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
# Two states evaluated the way a Task is (ExecutionState._evaluate_with_timeout), no AWS call.
MACHINE = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Parallel", "Branches": [BRANCH], "ResultPath": "$.a", "Next": "Second"},
        "Second": {"Type": "Parallel", "Branches": [BRANCH], "ResultPath": "$.b", "End": True},
    },
}


@pytest.fixture
def stepfunctions() -> Iterator[Any]:
    patches.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def test_sequential_evaluations_reuse_threads_with_moto_s_outputs(
    stepfunctions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a machine of two Task-like states, and the threads their evaluations run on
    ran_on: list[threading.Thread] = []
    moto_eval = StateParallel._eval_execution

    def recorded(self: StateParallel, env: Any) -> None:
        ran_on.append(threading.current_thread())
        moto_eval(self, env)

    monkeypatch.setattr(StateParallel, "_eval_execution", recorded)
    machine = stepfunctions.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(MACHINE),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/machine",
    )["stateMachineArn"]

    # When it runs three times, one execution after the other
    outputs = []
    for run in range(3):
        arn = stepfunctions.start_execution(
            stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps({"run": run})
        )["executionArn"]
        described = _finished(stepfunctions, arn)
        assert described, f"{arn} is still running"
        assert described["status"] == "SUCCEEDED", described
        outputs.append(json.loads(described["output"]))

    # Then the six evaluations ran on fewer threads than six, none of them the program's
    assert len(ran_on) == 6
    assert len({id(thread) for thread in ran_on}) < 6
    # and each execution's output is what moto makes of it
    for run, output in enumerate(outputs):
        first = [{"run": run}]
        assert output == {"run": run, "a": first, "b": [{"run": run, "a": first}]}


def _finished(stepfunctions: Any, arn: str) -> Any:
    return eventually(
        lambda: (
            (d := stepfunctions.describe_execution(executionArn=arn))["status"] != "RUNNING" and d
        )
    )


def test_an_evaluation_that_outlives_its_wait_runs_on_and_holds_up_no_other() -> None:
    # Given an evaluation that blocks, waited for a moment only (a state's TimeoutSeconds)
    release = threading.Event()
    stuck = ReusedThread(target=release.wait, daemon=True)
    stuck.start()
    stuck.join(timeout=0.05)
    assert stuck.is_alive()

    # When another evaluation starts
    done = threading.Event()
    other = ReusedThread(target=done.set, daemon=True)
    other.start()

    # Then it runs (on another thread) while the first is still running
    assert done.wait(timeout=10)
    other.join(timeout=10)
    assert not other.is_alive()
    assert stuck.is_alive()
    release.set()
    stuck.join(timeout=10)
    assert not stuck.is_alive()


def test_a_reused_thread_passes_its_arguments_and_starts_once() -> None:
    got: list[Any] = []
    thread = ReusedThread(target=lambda *a, **k: got.append((a, k)), args=(1, 2), kwargs={"x": 3})
    thread.start()
    thread.join(timeout=10)
    assert got == [((1, 2), {"x": 3})]
    with pytest.raises(RuntimeError):
        thread.start()


def test_an_idle_worker_ends_after_its_idle_time() -> None:
    # Given workers that wait 0.2 s for more work
    workers = _Workers(idle_seconds=0.2)
    ran_on: list[threading.Thread] = []

    def job(finished: threading.Event) -> Any:
        def run() -> None:
            ran_on.append(threading.current_thread())
            finished.set()

        return run

    first = threading.Event()
    workers.run(job(first))
    assert first.wait(timeout=10)

    # When the next job comes at once, and another after the idle time
    second = threading.Event()
    time.sleep(0.05)
    workers.run(job(second))
    assert second.wait(timeout=10)
    worker = ran_on[0]
    assert ran_on[1] is worker  # the idle worker took it
    assert eventually(lambda: not worker.is_alive())  # then it ended, idle for 0.2 s
    third = threading.Event()
    workers.run(job(third))
    assert third.wait(timeout=10)

    # Then a new worker ran the last one
    assert ran_on[2] is not worker
