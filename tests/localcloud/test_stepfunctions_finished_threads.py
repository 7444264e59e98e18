"""moto's interpreter keeps only the threads still running (localcloud.stepfunctions
.finished_threads), not every thread it ever started."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.backend import execution_worker

from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.stepfunctions import patches
from localcloud.stepfunctions.finished_threads import LiveThreads
from tests.support.polling import eventually

MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {"Type": "Pass", "Result": {"done": True}, "Next": "Again"},
        "Again": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
            "End": True,
        },
    },
}


@pytest.fixture
def stepfunctions() -> Iterator[Any]:
    patches.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def _run(stepfunctions: Any, machine: str) -> None:
    arn = stepfunctions.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex)[
        "executionArn"
    ]
    assert eventually(
        lambda: stepfunctions.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    )


def test_an_executions_threads_are_let_go_once_finished(stepfunctions: Any) -> None:
    # Given a machine, run once, and the threads the interpreter kept for that execution
    machine = stepfunctions.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(MACHINE),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/machine",
    )["stateMachineArn"]
    _run(stepfunctions, machine)
    kept = execution_worker.TMP_THREADS
    assert kept is execute_state.TMP_THREADS  # one list for all of moto's modules
    first = list(kept)
    assert first
    assert eventually(lambda: not any(thread.is_alive() for thread in first))

    # When it runs twice more
    _run(stepfunctions, machine)
    _run(stepfunctions, machine)

    # Then none of the first execution's (finished) threads is kept
    assert not {id(thread) for thread in first} & {id(thread) for thread in kept}


def test_live_threads_keep_the_running_ones() -> None:
    # Given a running thread and a finished one in the list
    stop = threading.Event()
    running = threading.Thread(target=stop.wait, daemon=True)
    finished = threading.Thread(target=lambda: None, daemon=True)
    running.start()
    finished.start()
    finished.join()
    threads = LiveThreads()
    threads.append(running)
    threads.append(finished)

    # When another is added
    later = threading.Thread(target=lambda: None)
    threads.append(later)

    # Then the running one stays, the finished one is gone
    assert threads == [running, later]
    stop.set()
    running.join()
