"""LambdaRuntime: real awslambdaric workers running tiny handlers written to tmp_path."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambda_.concurrency import ConcurrencySettings
from localcloud.lambda_.runtime import InvokeResult, LambdaRuntime, parse_function_ref
from localcloud.spec import FunctionSpec

HANDLERS = """
import json
import logging
import os
import subprocess
import time


class OrderRejected(Exception):
    pass


def echo(event, context):
    return {"event": event, "pid": os.getpid()}


def reject(event, context):
    raise OrderRejected("out of stock")


def sleep(event, context):
    started = time.time()
    time.sleep(event["seconds"])
    return {"pid": os.getpid(), "started": started, "ended": time.time()}


def sleep_with_child(event, context):
    child = subprocess.Popen(["sleep", "60"])
    with open(event["pid_file"] + ".part", "w") as out:
        json.dump({"worker": os.getpid(), "child": child.pid}, out)
    os.replace(event["pid_file"] + ".part", event["pid_file"])
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def environment(event, context):
    return dict(os.environ)


def crash(event, context):
    os._exit(3)


def describe_context(event, context):
    return {
        "arn": context.invoked_function_arn,
        "custom": context.client_context.custom if context.client_context else None,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
    }


def chatty(event, context):
    print("hello from the handler")
    logging.getLogger().warning("a warning")
    return len(event["blob"])
"""

BROKEN = "import a_module_that_does_not_exist  # noqa\n"
SLOW_INIT = "import time\n\ntime.sleep(30)\n\n\ndef handler(event, context):\n    return 1\n"

RuntimeFactory = Callable[..., LambdaRuntime]
_ROOMY = ConcurrencySettings(account_limit=50, concurrent_inits=4, running_limit=50)


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "fixture_handlers.py").write_text(textwrap.dedent(HANDLERS))
    (tmp_path / "broken_handler.py").write_text(BROKEN)
    (tmp_path / "slow_init.py").write_text(SLOW_INIT)
    return tmp_path


@pytest.fixture
def make_runtime(code_dir: Path) -> Iterator[RuntimeFactory]:
    """Builds a runtime with one function per handler name given; closes them all after."""
    runtimes: list[LambdaRuntime] = []

    def make(
        *handlers: str,
        timeout_seconds: int = 3,
        environment: dict[str, str] | None = None,
        base_environment: dict[str, str] | None = None,
    ) -> LambdaRuntime:
        functions = {
            _function_name(handler): FunctionSpec(
                logical_id=_function_name(handler),
                handler=handler,
                code_dir=code_dir,
                layer_dirs=(),
                timeout_seconds=timeout_seconds,
                memory_mb=256,
                environment=environment or {},
            )
            for handler in handlers
        }
        # Roomy limits: these tests are about one worker's life, not about concurrency
        # (test_lambda_concurrency.py), so concurrent invocations get workers of their own.
        runtime = LambdaRuntime(functions, base_environment or {}, concurrency=_ROOMY)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


_COUNTS = (
    "invocations",
    "cold_starts",
    "errors",
    "timeouts",
    "init_timeouts",
    "throttles",
    "live_workers",
    "idle_workers",
    "busy_workers",
)


def _function_name(handler: str) -> str:
    return handler.rsplit(".", 1)[1].title().replace("_", "") + "Function"


def _invoke(runtime: LambdaRuntime, name: str, event: Any, **kwargs: Any) -> InvokeResult:
    return runtime.invoke(name, json.dumps(event).encode(), **kwargs)


def _body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def _gone(pid: int) -> bool:
    """The process does not exist, or is a zombie nobody reaped yet (its parent died)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_success_returns_the_handlers_payload(make_runtime: RuntimeFactory) -> None:
    # Given
    runtime = make_runtime("fixture_handlers.echo")
    # When
    result = _invoke(runtime, "EchoFunction", {"orderId": "o-1"})
    # Then
    assert result.function_error is None
    assert _body(result)["event"] == {"orderId": "o-1"}
    assert result.duration_ms > 0
    assert result.request_id


def test_first_call_is_cold_then_the_same_worker_is_reused(make_runtime: RuntimeFactory) -> None:
    # Given
    runtime = make_runtime("fixture_handlers.echo")
    # When
    first = _invoke(runtime, "EchoFunction", {})
    second = _invoke(runtime, "EchoFunction", {})
    # Then
    assert (first.cold_start, second.cold_start) == (True, False)
    assert _body(first)["pid"] == _body(second)["pid"]
    stats = runtime.stats()["EchoFunction"]
    assert {name: stats[name] for name in _COUNTS} == {
        "invocations": 2,
        "cold_starts": 1,
        "errors": 0,
        "timeouts": 0,
        "init_timeouts": 0,
        "throttles": 0,
        "live_workers": 1,
        "idle_workers": 1,
        "busy_workers": 0,
    }


def test_prewarmed_worker_serves_the_first_call_warm(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime("fixture_handlers.echo")
    runtime.prewarm("EchoFunction")
    result = _invoke(runtime, "EchoFunction", {})
    assert result.cold_start is False
    assert result.function_error is None


def test_handler_exception_keeps_its_class_name_as_error_type(
    make_runtime: RuntimeFactory,
) -> None:
    # Given
    runtime = make_runtime("fixture_handlers.reject")
    # When
    result = _invoke(runtime, "RejectFunction", {})
    again = _invoke(runtime, "RejectFunction", {})
    # Then
    assert result.function_error == "Unhandled"
    error = _body(result)
    assert error["errorType"] == "OrderRejected"
    assert error["errorMessage"] == "out of stock"
    assert error["requestId"] == result.request_id
    assert again.cold_start is False  # a handler error does not discard the worker
    assert runtime.stats()["RejectFunction"]["errors"] == 2


def test_timeout_kills_the_worker_group_and_the_next_call_is_cold(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    # Given a function with a 1 s timeout whose handler starts a child, then sleeps 5 s
    runtime = make_runtime("fixture_handlers.sleep_with_child", timeout_seconds=1)
    pid_file = tmp_path / "pids.json"
    # When
    started = time.monotonic()
    result = _invoke(runtime, "SleepWithChildFunction", {"seconds": 5, "pid_file": str(pid_file)})
    elapsed = time.monotonic() - started
    # Then
    assert result.function_error == "Unhandled"
    assert _body(result) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert 1.0 <= elapsed < 2.5
    pids = json.loads(pid_file.read_text())
    assert _gone(pids["worker"])
    assert _wait_until(lambda: _gone(pids["child"]))
    assert runtime.stats()["SleepWithChildFunction"]["live_workers"] == 0
    # And the next call gets a fresh worker that works
    after = _invoke(runtime, "SleepWithChildFunction", {"seconds": 0, "pid_file": str(pid_file)})
    assert after.cold_start is True
    assert after.function_error is None
    assert _body(after)["pid"] != pids["worker"]
    assert runtime.stats()["SleepWithChildFunction"]["timeouts"] == 1


def test_import_error_is_reported_and_the_worker_discarded(make_runtime: RuntimeFactory) -> None:
    # Given
    runtime = make_runtime("broken_handler.handler")
    # When
    first = _invoke(runtime, "HandlerFunction", {})
    second = _invoke(runtime, "HandlerFunction", {})
    # Then
    assert first.function_error == "Unhandled"
    error = _body(first)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "a_module_that_does_not_exist" in error["errorMessage"]
    assert second.cold_start is True
    assert _wait_until(lambda: runtime.stats()["HandlerFunction"]["live_workers"] == 0)


def test_init_past_the_init_limit_times_out(
    make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an init limit of 0.5 s (Lambda's is 10 s) and a module that sleeps on import
    monkeypatch.setattr("localcloud.lambda_.runtime.INIT_TIMEOUT_SECONDS", 0.5)
    runtime = make_runtime("slow_init.handler")
    # When
    result = _invoke(runtime, "HandlerFunction", {})
    # Then
    assert _body(result) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Init timed out after 0.50 seconds",
    }
    assert runtime.stats()["HandlerFunction"]["live_workers"] == 0


def test_prewarm_of_a_broken_function_leaves_no_worker(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime("broken_handler.handler")
    runtime.prewarm("HandlerFunction")
    assert runtime.stats()["HandlerFunction"]["live_workers"] == 0
    assert _invoke(runtime, "HandlerFunction", {}).cold_start is True


def test_idle_worker_that_died_is_replaced(make_runtime: RuntimeFactory) -> None:
    # Given an idle worker that then dies
    runtime = make_runtime("fixture_handlers.echo")
    pid = _body(_invoke(runtime, "EchoFunction", {}))["pid"]
    os.kill(pid, signal.SIGKILL)
    assert _wait_until(lambda: runtime.stats()["EchoFunction"]["live_workers"] == 0)
    # When
    result = _invoke(runtime, "EchoFunction", {})
    # Then
    assert result.cold_start is True
    assert _body(result)["pid"] != pid


def test_crashed_worker_is_reported_and_replaced(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime("fixture_handlers.crash")
    first = _invoke(runtime, "CrashFunction", {})
    second = _invoke(runtime, "CrashFunction", {})
    assert _body(first)["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in _body(first)["errorMessage"]
    assert second.cold_start is True


def test_concurrent_invocations_run_in_parallel_on_two_workers(
    make_runtime: RuntimeFactory,
) -> None:
    # Given
    runtime = make_runtime("fixture_handlers.sleep")
    results: list[InvokeResult] = []

    def call() -> None:
        results.append(_invoke(runtime, "SleepFunction", {"seconds": 0.5}))

    # When
    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then both ran at the same time, each in a worker of its own
    bodies = [_body(result) for result in results]
    assert len({body["pid"] for body in bodies}) == 2
    assert max(body["started"] for body in bodies) < min(body["ended"] for body in bodies)
    assert runtime.stats()["SleepFunction"]["live_workers"] == 2


def test_environment_has_template_variables_and_lambda_variables_only(
    make_runtime: RuntimeFactory, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a variable in our own environment that must not leak into the worker
    monkeypatch.setenv("LOCALCLOUD_TEST_PRIVATE", "secret")
    runtime = make_runtime(
        "fixture_handlers.environment",
        environment={"TABLE_NAME": "orders"},
        base_environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "TABLE_NAME": "loses"},
    )
    # When
    env = _body(_invoke(runtime, "EnvironmentFunction", {}))
    # Then
    assert env["TABLE_NAME"] == "orders"  # the function's own variables win
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EnvironmentFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/EnvironmentFunction"
    assert env["LAMBDA_TASK_ROOT"] == str(code_dir)
    assert env["_HANDLER"] == "fixture_handlers.environment"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"  # the spec's runtime
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(code_dir)
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert "LOCALCLOUD_TEST_PRIVATE" not in env


@pytest.mark.parametrize("encode", [str, lambda text: base64.b64encode(text.encode()).decode()])
def test_arn_qualifier_and_client_context_reach_the_handler(
    make_runtime: RuntimeFactory, encode: Callable[[str], str]
) -> None:
    # Given a client context as JSON text, or base64 as in the Invoke API's header
    runtime = make_runtime("fixture_handlers.describe_context", timeout_seconds=7)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:DescribeContextFunction:live"
    client_context = encode(json.dumps({"custom": {"tenant": "t-1"}}))
    # When
    body = _body(_invoke(runtime, arn, {}, client_context=client_context))
    # Then
    assert body["arn"] == arn
    assert body["custom"] == {"tenant": "t-1"}
    assert 6000 < body["remaining_ms"] <= 7000
    assert runtime.function(arn).name == "DescribeContextFunction"


def test_unknown_function_raises_key_error(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime("fixture_handlers.echo")
    with pytest.raises(KeyError):
        runtime.function("arn:aws:lambda:us-east-1:123456789012:function:Nope")
    with pytest.raises(KeyError):
        runtime.invoke("Nope", b"{}")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("PlaceOrder", ("PlaceOrder", None)),
        ("PlaceOrder:live", ("PlaceOrder", "live")),
        ("123456789012:function:PlaceOrder", ("PlaceOrder", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:PlaceOrder", ("PlaceOrder", None)),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:PlaceOrder:$LATEST",
            ("PlaceOrder", "$LATEST"),
        ),
    ],
)
def test_parse_function_ref(reference: str, expected: tuple[str, str | None]) -> None:
    assert parse_function_ref(reference) == expected


def test_output_is_forwarded_to_the_functions_logger_and_large_payloads_pass(
    make_runtime: RuntimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Given
    caplog.set_level(logging.INFO, logger="localcloud.lambda.ChattyFunction")
    runtime = make_runtime("fixture_handlers.chatty")
    # When
    result = _invoke(runtime, "ChattyFunction", {"blob": "x" * 300_000})
    # Then
    assert _body(result) == 300_000

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith("localcloud.lambda")]

    assert _wait_until(lambda: any("hello from the handler" in m for m in logged()))
    assert _wait_until(lambda: any("a warning" in m for m in logged()))
    assert all(message.startswith("[ChattyFunction] ") for message in logged())


def test_close_kills_every_worker(make_runtime: RuntimeFactory, tmp_path: Path) -> None:
    # Given two busy workers (each with a child process) and an idle worker of another function
    runtime = make_runtime("fixture_handlers.sleep_with_child", "fixture_handlers.echo")
    idle_pid = _body(_invoke(runtime, "EchoFunction", {}))["pid"]
    pid_files = [tmp_path / f"busy-{i}.json" for i in range(2)]
    busy: list[InvokeResult] = []

    def call(pid_file: Path) -> None:
        event = {"seconds": 30, "pid_file": str(pid_file)}
        busy.append(_invoke(runtime, "SleepWithChildFunction", event))

    threads = [threading.Thread(target=call, args=(pid_file,)) for pid_file in pid_files]
    for thread in threads:
        thread.start()
    assert _wait_until(lambda: all(pid_file.exists() for pid_file in pid_files))
    pids = [pid for f in pid_files for pid in json.loads(f.read_text()).values()]
    # When
    runtime.close()
    for thread in threads:
        thread.join(timeout=5)
    # Then
    assert _gone(idle_pid)
    assert _wait_until(lambda: all(_gone(pid) for pid in pids))
    assert [result.function_error for result in busy] == ["Unhandled", "Unhandled"]
    assert all(_body(result)["errorType"] == "Runtime.ExitError" for result in busy)
    with pytest.raises(RuntimeError):
        runtime.invoke("EchoFunction", b"{}")
