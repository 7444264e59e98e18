"""A worker forked by the fork server is the process `python -m awslambdaric <handler>` would
have been: same path, folder, arguments and environment, a session of its own; a function
whose environment changes what the preloaded libraries read, or whose folder holds one of
them, gets what a fresh interpreter would give it."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambda_.forkserver import FORKSERVER_VARIABLE
from localcloud.lambda_.runtime import LambdaRuntime
from localcloud.spec import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
SHARED_LAYER = ROOT / "layers" / "shared"

PROBE = """
import logging
import os
import random
import sys

import aws_lambda_powertools  # noqa: F401
import boto3

POWERTOOLS_LOGGER = logging.getLogger("aws_lambda_powertools")
AT_IMPORT = {"pid": os.getpid(), "argv": list(sys.argv), "path": list(sys.path)}


def describe(event, context):
    return {
        **AT_IMPORT,
        "parent": os.getppid(),
        "own_session": os.getsid(0) == os.getpid() == os.getpgid(0),
        "cwd": os.getcwd(),
        "stdin": os.path.realpath(f"/proc/self/fd/0"),
        "environment": {
            key: os.environ.get(key) for key in ("ONLY_PROBE", "ONLY_OTHER", "TZ", "PYTHONPATH")
        },
        "random": random.random(),
        "boto3": boto3.__version__,
        "powertools_handlers": [
            type(handler).__name__ for handler in POWERTOOLS_LOGGER.handlers
        ],
    }
"""


def _spec(name: str, code_dir: Path, environment: dict[str, str]) -> FunctionSpec:
    return FunctionSpec(
        logical_id=name,
        handler="probe.describe",
        code_dir=code_dir,
        layer_dirs=(SHARED_LAYER,),
        timeout_seconds=10,
        memory_mb=128,
        environment=environment,
    )


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "probe.py").write_text(textwrap.dedent(PROBE))
    return path


@pytest.fixture
def functions(tmp_path: Path) -> dict[str, FunctionSpec]:
    probes = _folder(tmp_path / "probes")
    vendored = _folder(tmp_path / "vendored")
    (vendored / "boto3").mkdir()
    (vendored / "boto3" / "__init__.py").write_text('__version__ = "vendored"\n')
    return {
        "ProbeFunction": _spec("ProbeFunction", probes, {"ONLY_PROBE": "1"}),
        "OtherFunction": _spec("OtherFunction", probes, {"ONLY_OTHER": "2"}),
        "DebugFunction": _spec("DebugFunction", probes, {"POWERTOOLS_DEBUG": "true"}),
        "VendoredFunction": _spec("VendoredFunction", vendored, {}),
    }


def _describe(runtime: LambdaRuntime, name: str) -> dict[str, Any]:
    result = runtime.invoke(name, b"{}")
    body: dict[str, Any] = json.loads(result.payload)
    assert result.function_error is None, body
    return body


def _describe_all(
    functions: dict[str, FunctionSpec], monkeypatch: pytest.MonkeyPatch, *, forked: bool
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv(FORKSERVER_VARIABLE, "1" if forked else "0")
    with LambdaRuntime(functions, {}) as runtime:
        for name in functions:
            yield _describe(runtime, name)


def test_a_forked_worker_is_what_a_fresh_interpreter_would_be(
    functions: dict[str, FunctionSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    # When every function runs once forked, then once as fresh interpreters
    forked = dict(zip(functions, _describe_all(functions, monkeypatch, forked=True), strict=True))
    fresh = dict(zip(functions, _describe_all(functions, monkeypatch, forked=False), strict=True))
    # Then the workers come from a server, not from localcloud itself, but the one whose
    # folder holds its own boto3
    localcloud = fresh["ProbeFunction"]["parent"]
    assert {name for name, seen in forked.items() if seen["parent"] == localcloud} == {
        "VendoredFunction"
    }
    # and each sees what a fresh interpreter sees, but for its random numbers and pids
    for name in functions:
        same = {key: value for key, value in forked[name].items() if key not in _PER_PROCESS}
        assert same == {k: v for k, v in fresh[name].items() if k not in _PER_PROCESS}, name
        assert forked[name]["own_session"] is True
        assert forked[name]["stdin"] == "/dev/null"
    assert forked["ProbeFunction"]["environment"]["ONLY_OTHER"] is None
    assert forked["OtherFunction"]["environment"]["ONLY_PROBE"] is None
    # what Powertools reads at import (POWERTOOLS_DEBUG) takes effect: another server
    assert forked["DebugFunction"]["powertools_handlers"] == ["StreamHandler"]
    assert forked["ProbeFunction"]["powertools_handlers"] == ["NullHandler"]
    # a function's own copy of a preloaded library wins, as on Lambda
    assert forked["VendoredFunction"]["boto3"] == "vendored"
    assert forked["ProbeFunction"]["boto3"] != "vendored"


_PER_PROCESS = {"pid", "parent", "random"}


@pytest.fixture
def forked_runtime(
    functions: dict[str, FunctionSpec], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LambdaRuntime]:
    monkeypatch.setenv(FORKSERVER_VARIABLE, "1")
    with LambdaRuntime(functions, {}) as runtime:
        yield runtime


def test_two_forked_workers_draw_different_random_numbers(forked_runtime: LambdaRuntime) -> None:
    # When two functions forked from the same server draw a random number
    probe = _describe(forked_runtime, "ProbeFunction")
    other = _describe(forked_runtime, "OtherFunction")
    # Then they are two processes of one server, each with its own random state
    assert probe["parent"] == other["parent"]
    assert probe["pid"] != other["pid"]
    assert probe["random"] != other["random"]


def test_a_dead_fork_server_costs_its_workers_but_not_the_next_cold_start(
    forked_runtime: LambdaRuntime,
) -> None:
    # Given a worker forked by a server
    first = _describe(forked_runtime, "ProbeFunction")
    # When the server dies
    os.kill(first["parent"], signal.SIGKILL)
    # Then its worker is gone (nobody could report its exit), and both that function and
    # one never started before run in workers of their own
    assert _wait_until(lambda: not _alive(first["pid"]))
    again = _describe(forked_runtime, "ProbeFunction")
    other = _describe(forked_runtime, "OtherFunction")
    assert again["pid"] != first["pid"]
    assert other["environment"]["ONLY_OTHER"] == "2"
    assert forked_runtime.stats()["ProbeFunction"]["cold_starts"] == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
