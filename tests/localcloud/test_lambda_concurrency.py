"""Lambda's concurrency limits in localcloud: account limit, reserved concurrency, the warm
pool, bounded cold starts; throttles answered as Lambda's Invoke API answers them."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.endpoint.server import AwsEndpoint
from localcloud.lambda_.concurrency import (
    ACCOUNT_LIMIT_EXCEEDED,
    RESERVED_LIMIT_EXCEEDED,
    ConcurrencySettings,
    TooManyRequestsException,
)
from localcloud.lambda_.runtime import InvokeResult, LambdaRuntime
from localcloud.spec import REGION, FunctionSpec

HANDLERS = """
import os
import time


def sleep(event, context):
    started = time.time()
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "started": started, "ended": time.time()}
"""

# A module whose init takes a while and records when it ran (one file per worker).
SLOW_INIT = """
import os
import time

_STARTED = time.time()
time.sleep(0.4)
with open(os.path.join(os.environ["INIT_LOG_DIR"], f"{os.getpid()}.json"), "w") as out:
    out.write('{"started": %r, "ended": %r}' % (_STARTED, time.time()))


def handler(event, context):
    return {"pid": os.getpid()}
"""

RuntimeFactory = Callable[..., LambdaRuntime]


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "concurrency_handlers.py").write_text(textwrap.dedent(HANDLERS))
    (tmp_path / "slow_init_probe.py").write_text(textwrap.dedent(SLOW_INIT))
    return tmp_path


@pytest.fixture
def make_runtime(code_dir: Path) -> Iterator[RuntimeFactory]:
    """A runtime with the given functions ({name: (handler, reserved)}) and settings."""
    runtimes: list[LambdaRuntime] = []

    def make(
        functions: dict[str, tuple[str, int | None]],
        settings: ConcurrencySettings,
        environment: dict[str, str] | None = None,
    ) -> LambdaRuntime:
        specs = {
            name: FunctionSpec(
                logical_id=name,
                handler=handler,
                code_dir=code_dir,
                layer_dirs=(),
                timeout_seconds=10,
                memory_mb=128,
                environment=environment or {},
                reserved_concurrency=reserved,
            )
            for name, (handler, reserved) in functions.items()
        }
        runtime = LambdaRuntime(specs, {}, concurrency=settings)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


def _invoke(runtime: LambdaRuntime, name: str, event: dict[str, Any]) -> InvokeResult:
    return runtime.invoke(name, json.dumps(event).encode())


def _body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


ROOMY = ConcurrencySettings(account_limit=50, concurrent_inits=4, running_limit=50)


def test_reserved_concurrency_throttles_the_invocation_past_it(
    make_runtime: RuntimeFactory,
) -> None:
    # Given a function with ReservedConcurrentExecutions 2, running twice
    runtime = make_runtime({"SleepFunction": ("concurrency_handlers.sleep", 2)}, ROOMY)
    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(_invoke, runtime, "SleepFunction", {"seconds": 1}) for _ in "ab"]
        assert _wait_until(lambda: runtime.stats()["SleepFunction"]["busy_workers"] == 2)
        # When a third invocation comes
        with pytest.raises(TooManyRequestsException) as throttled:
            _invoke(runtime, "SleepFunction", {})
        # Then it is refused before running, and the two running ones finish
        assert [f.result().function_error for f in running] == [None, None]
    assert throttled.value.reason == RESERVED_LIMIT_EXCEEDED
    assert throttled.value.body() == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    stats = runtime.stats()["SleepFunction"]
    assert (stats["invocations"], stats["throttles"], stats["live_workers"]) == (2, 1, 2)
    # And with a slot free again, an invocation runs
    assert _invoke(runtime, "SleepFunction", {}).function_error is None


def test_reserved_concurrency_zero_throttles_every_invocation(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime({"SleepFunction": ("concurrency_handlers.sleep", 0)}, ROOMY)
    with pytest.raises(TooManyRequestsException):
        _invoke(runtime, "SleepFunction", {})
    assert runtime.stats()["SleepFunction"]["live_workers"] == 0


def test_throttled_invoke_is_a_429_too_many_requests_exception_for_boto3(
    make_runtime: RuntimeFactory,
) -> None:
    # Given the AWS endpoint in front of a runtime whose function may run once at a time
    runtime = make_runtime({"SleepFunction": ("concurrency_handlers.sleep", 1)}, ROOMY)
    endpoint = AwsEndpoint(runtime, status=dict)
    endpoint.serve("127.0.0.1", 0)
    client = boto3.client(
        "lambda",
        endpoint_url=endpoint.url,
        region_name=REGION,
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",
        config=Config(retries={"total_max_attempts": 1}),
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(_invoke, runtime, "SleepFunction", {"seconds": 1})
            assert _wait_until(lambda: runtime.stats()["SleepFunction"]["busy_workers"] == 1)
            # When boto3 invokes it a second time
            with pytest.raises(ClientError) as refused:
                client.invoke(FunctionName="SleepFunction", Payload=b"{}")
            assert running.result().function_error is None
    finally:
        endpoint.close()
    # Then it sees what Lambda answers: 429 TooManyRequestsException with the reason
    error: dict[str, Any] = dict(refused.value.response)
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["Type"] == "User"


def test_account_limit_throttles_across_functions(make_runtime: RuntimeFactory) -> None:
    # Given an account limit of 2 and two functions, each running once
    settings = ConcurrencySettings(account_limit=2, concurrent_inits=2, running_limit=10)
    runtime = make_runtime(
        {
            "FirstFunction": ("concurrency_handlers.sleep", None),
            "SecondFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )
    with ThreadPoolExecutor(2) as pool:
        running = [
            pool.submit(_invoke, runtime, name, {"seconds": 1})
            for name in ("FirstFunction", "SecondFunction")
        ]
        assert _wait_until(lambda: runtime.concurrency_stats()["inFlight"] == 2)
        # When either function is invoked again
        with pytest.raises(TooManyRequestsException) as throttled:
            _invoke(runtime, "FirstFunction", {})
        assert [f.result().function_error for f in running] == [None, None]
    # Then the account's limit refused it
    assert throttled.value.reason == ACCOUNT_LIMIT_EXCEEDED
    assert runtime.stats()["FirstFunction"]["throttles"] == 1
    assert runtime.concurrency_stats()["maxInFlight"] == 2


def test_reserved_concurrency_is_carved_out_of_the_account_limit(
    make_runtime: RuntimeFactory,
) -> None:
    # Given an account limit of 2, one of which is reserved for ReservedFunction
    settings = ConcurrencySettings(account_limit=2, concurrent_inits=2, running_limit=10)
    runtime = make_runtime(
        {
            "ReservedFunction": ("concurrency_handlers.sleep", 1),
            "OtherFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_invoke, runtime, "OtherFunction", {"seconds": 1})
        assert _wait_until(lambda: runtime.concurrency_stats()["inFlight"] == 1)
        # When the unreserved function is invoked again: the one unreserved slot is taken
        with pytest.raises(TooManyRequestsException):
            _invoke(runtime, "OtherFunction", {})
        # Then the reserved function still runs
        assert _invoke(runtime, "ReservedFunction", {}).function_error is None
        assert running.result().function_error is None
    assert runtime.concurrency_stats()["unreservedLimit"] == 1


def _saturate(
    runtime: LambdaRuntime, pool: ThreadPoolExecutor, busy_seconds: float
) -> Future[InvokeResult]:
    """Both running slots taken: SleepFunction's only (warm) worker for `busy_seconds`,
    OtherFunction for 0.3 s."""
    _invoke(runtime, "SleepFunction", {})  # one warm worker
    busy = pool.submit(_invoke, runtime, "SleepFunction", {"seconds": busy_seconds})
    pool.submit(_invoke, runtime, "OtherFunction", {"seconds": 0.3})
    assert _wait_until(lambda: runtime.concurrency_stats()["running"] == 2)
    return busy


def _two_functions(make_runtime: RuntimeFactory, warm_wait_seconds: float) -> LambdaRuntime:
    settings = ConcurrencySettings(
        account_limit=10,
        concurrent_inits=2,
        running_limit=2,
        warm_wait_seconds=warm_wait_seconds,
    )
    return make_runtime(
        {
            "SleepFunction": ("concurrency_handlers.sleep", None),
            "OtherFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )


def test_saturated_machine_waits_for_the_warm_worker_instead_of_a_cold_start(
    make_runtime: RuntimeFactory,
) -> None:
    # Given every running slot taken, one by SleepFunction's only worker (busy for 1 s)
    runtime = _two_functions(make_runtime, warm_wait_seconds=5.0)
    with ThreadPoolExecutor(2) as pool:
        busy = _saturate(runtime, pool, busy_seconds=1.0)
        # When SleepFunction is invoked again (it gets OtherFunction's slot after 0.3 s)
        second = _invoke(runtime, "SleepFunction", {})
        first = busy.result()
    # Then it waited for the warm worker rather than starting a cold one
    assert (first.cold_start, second.cold_start) == (False, False)
    assert _body(second)["pid"] == _body(first)["pid"]
    assert _body(second)["started"] >= _body(first)["ended"]
    stats = runtime.stats()["SleepFunction"]
    assert (stats["cold_starts"], stats["warm_waits"], stats["live_workers"]) == (1, 1, 1)


def test_warm_wait_ends_in_a_cold_start_when_the_worker_stays_busy(
    make_runtime: RuntimeFactory,
) -> None:
    # Given every running slot taken, one by SleepFunction's only worker (busy for 5 s)
    runtime = _two_functions(make_runtime, warm_wait_seconds=0.2)
    with ThreadPoolExecutor(2) as pool:
        busy = _saturate(runtime, pool, busy_seconds=5.0)
        # When SleepFunction is invoked again
        second = _invoke(runtime, "SleepFunction", {})
        # Then after the short wait it gets a worker of its own, before the first is done
        assert second.cold_start is True
        first = busy.result()
    assert _body(second)["pid"] != _body(first)["pid"]
    assert _body(second)["ended"] < _body(first)["ended"]


def test_cold_starts_initialise_a_few_at_a_time(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    # Given one init at a time and three functions whose init takes 0.4 s
    log_dir = tmp_path / "inits"
    log_dir.mkdir()
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=1, running_limit=10)
    names = ["AFunction", "BFunction", "CFunction"]
    runtime = make_runtime(
        {name: ("slow_init_probe.handler", None) for name in names},
        settings,
        environment={"INIT_LOG_DIR": str(log_dir)},
    )
    # When all three are invoked at once
    barrier = threading.Barrier(3)

    def call(name: str) -> InvokeResult:
        barrier.wait()
        return _invoke(runtime, name, {})

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, names))
    # Then every one ran, cold, and no two inits overlapped
    assert [(r.cold_start, r.function_error) for r in results] == [(True, None)] * 3
    inits = sorted(
        (json.loads(f.read_text()) for f in log_dir.glob("*.json")), key=lambda i: i["started"]
    )
    assert len(inits) == 3
    assert all(later["started"] >= earlier["ended"] for earlier, later in pairwise(inits))
    assert runtime.concurrency_stats()["initsInProgress"] == 0


def test_past_the_running_limit_an_invocation_waits_for_a_slot_before_its_clock_starts(
    make_runtime: RuntimeFactory,
) -> None:
    # Given one running slot and a function whose timeout (10 s) is far above its run time
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=2, running_limit=1)
    runtime = make_runtime(
        {
            "FirstFunction": ("concurrency_handlers.sleep", None),
            "SecondFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_invoke, runtime, "FirstFunction", {"seconds": 1})
        assert _wait_until(lambda: runtime.concurrency_stats()["running"] == 1)
        # When another function is invoked, and a third invocation comes from inside a
        # running one (nested: its caller waits for it)
        second = _invoke(runtime, "SecondFunction", {})
        nested = runtime.invoke("SecondFunction", b"{}", nested=True)
        first_body = _body(first.result())
    # Then the second ran only after the first, the nested one did not wait
    assert _body(second)["started"] >= first_body["ended"]
    assert _body(nested)["started"] >= first_body["ended"]  # it came after the second
    stats = runtime.concurrency_stats()
    assert (stats["maxRunning"], stats["runWaitsExpired"]) == (1, 0)


def test_a_nested_invocation_runs_past_the_running_limit(make_runtime: RuntimeFactory) -> None:
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=2, running_limit=1)
    runtime = make_runtime({"SleepFunction": ("concurrency_handlers.sleep", None)}, settings)
    with ThreadPoolExecutor(1) as pool:
        caller = pool.submit(_invoke, runtime, "SleepFunction", {"seconds": 5})
        assert _wait_until(lambda: runtime.concurrency_stats()["running"] == 1)
        nested = runtime.invoke("SleepFunction", b"{}", nested=True)
        assert _body(nested)["started"] < _body(caller.result())["ended"]
    assert runtime.concurrency_stats()["maxRunning"] == 2


def test_work_already_inside_gets_a_running_slot_before_a_clients_new_request(
    make_runtime: RuntimeFactory,
) -> None:
    # Given one running slot, taken by an invocation that runs for a second
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=2, running_limit=1)
    runtime = make_runtime({"SleepFunction": ("concurrency_handlers.sleep", None)}, settings)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(_invoke, runtime, "SleepFunction", {"seconds": 1})
        assert _wait_until(lambda: runtime.concurrency_stats()["running"] == 1)
        # When a client's request (API Gateway: the edge) queues for the slot first, and an
        # invocation from inside (a saga step, an event source) queues after it
        edge = pool.submit(runtime.invoke, "SleepFunction", b"{}", edge=True)
        assert _wait_until(lambda: runtime.concurrency_stats()["edgeWaitingToRun"] == 1)
        inside = pool.submit(_invoke, runtime, "SleepFunction", {})
        assert _wait_until(lambda: runtime.concurrency_stats()["waitingToRun"] == 2)
        first_body, edge_body, inside_body = (
            _body(first.result()),
            _body(edge.result()),
            _body(inside.result()),
        )
    # Then the work inside ran first, the client's request after it, one at a time
    assert first_body["ended"] <= inside_body["started"]
    assert inside_body["ended"] <= edge_body["started"]
    stats = runtime.concurrency_stats()
    assert (stats["maxRunning"], stats["runWaitsExpired"], stats["waitingToRun"]) == (1, 0, 0)


def test_the_edge_holds_at_most_its_share_of_the_running_slots(
    make_runtime: RuntimeFactory,
) -> None:
    # Given three running slots, of which the edge may hold a third (one)
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=3, running_limit=3)
    runtime = make_runtime(
        {
            "EdgeFunction": ("concurrency_handlers.sleep", None),
            "InsideFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )
    with ThreadPoolExecutor(3) as pool:
        # When two clients' requests come from the edge at once, and work from inside
        first = pool.submit(runtime.invoke, "EdgeFunction", b'{"seconds": 1}', edge=True)
        assert _wait_until(lambda: runtime.concurrency_stats()["edgeRunning"] == 1)
        second = pool.submit(runtime.invoke, "EdgeFunction", b'{"seconds": 0}', edge=True)
        assert _wait_until(lambda: runtime.concurrency_stats()["edgeWaitingToRun"] == 1)
        inside = _body(_invoke(runtime, "InsideFunction", {}))
        first_body, second_body = _body(first.result()), _body(second.result())
    # Then the work inside ran beside the first request, the second request after it
    assert inside["ended"] <= first_body["ended"]
    assert second_body["started"] >= first_body["ended"]
    stats = runtime.concurrency_stats()
    assert (stats["edgeRunningLimit"], stats["edgeRunning"], stats["waitingToRun"]) == (1, 0, 0)
    assert stats["runWaitsExpired"] == 0


def test_the_edge_gets_one_slot_while_work_from_inside_runs(
    make_runtime: RuntimeFactory,
) -> None:
    # Given six running slots, of which the edge may hold two on an idle machine
    settings = ConcurrencySettings(account_limit=10, concurrent_inits=4, running_limit=6)
    runtime = make_runtime(
        {
            "EdgeFunction": ("concurrency_handlers.sleep", None),
            "InsideFunction": ("concurrency_handlers.sleep", None),
        },
        settings,
    )
    edge = b'{"seconds": 0.5}'
    with ThreadPoolExecutor(3) as pool:
        # When two clients' requests come at once on the idle machine
        idle = [pool.submit(runtime.invoke, "EdgeFunction", edge, edge=True) for _ in range(2)]
        first_idle, second_idle = (_body(future.result()) for future in idle)
        # and two more while work from inside runs
        inside = pool.submit(_invoke, runtime, "InsideFunction", {"seconds": 2})
        assert _wait_until(lambda: runtime.concurrency_stats()["running"] == 1)
        busy = [pool.submit(runtime.invoke, "EdgeFunction", edge, edge=True) for _ in range(2)]
        first_busy, second_busy = sorted(
            (_body(future.result()) for future in busy), key=lambda body: body["started"]
        )
        inside.result()
    # Then the idle machine ran both at once; under load the second waited for the first
    assert second_idle["started"] < first_idle["ended"]
    assert first_idle["started"] < second_idle["ended"]
    assert second_busy["started"] >= first_busy["ended"]
    assert runtime.concurrency_stats()["runWaitsExpired"] == 0


def test_past_its_burst_a_queue_at_the_door_enters_at_the_edges_rate(
    make_runtime: RuntimeFactory,
) -> None:
    # Given one slot for the edge, and an edge bucket of two writes, refilled once a second
    settings = ConcurrencySettings(
        account_limit=20, concurrent_inits=4, running_limit=3, edge_rate=1.0, edge_burst=2
    )
    runtime = make_runtime({"EdgeFunction": ("concurrency_handlers.sleep", None)}, settings)
    for _ in range(6):  # a warm worker each: no cold start (slow on a loaded machine) in the way
        runtime.prewarm("EdgeFunction")
    with ThreadPoolExecutor(6) as pool:
        # When one client's write holds the edge's slot and five more come while it runs (all
        # five queue at the door: one that found the slot free would take no token)
        holder = pool.submit(runtime.invoke, "EdgeFunction", b'{"seconds": 3}', edge=True)
        assert _wait_until(lambda: runtime.concurrency_stats()["edgeRunning"] == 1)
        writes = [pool.submit(runtime.invoke, "EdgeFunction", b"{}", edge=True) for _ in range(5)]
        assert _wait_until(lambda: runtime.concurrency_stats()["edgeWaitingToRun"] == 5)
        assert not holder.done()
        starts = sorted(_body(write.result())["started"] for write in writes)
    # Then, once the slot is free, the first two queued take the burst's tokens, one after the
    # other on the edge's one slot, sooner than the rate would let them; the last three enter
    # a second apart (a new token each)
    assert starts[1] - starts[0] < 0.9
    gaps = [later - earlier for earlier, later in pairwise([starts[0], *starts[2:]])]
    assert all(gap >= 0.9 for gap in gaps), gaps
    assert runtime.concurrency_stats()["runWaitsExpired"] == 0


def test_a_lone_client_is_not_paced_by_the_edges_rate(make_runtime: RuntimeFactory) -> None:
    # Given an edge bucket of one write, refilled once a second
    settings = ConcurrencySettings(
        account_limit=20, concurrent_inits=4, running_limit=3, edge_rate=1.0, edge_burst=1
    )
    runtime = make_runtime({"EdgeFunction": ("concurrency_handlers.sleep", None)}, settings)
    _invoke(runtime, "EdgeFunction", {})  # warm
    # When one client sends five writes, each after the last was answered
    started = time.monotonic()
    for _ in range(5):
        runtime.invoke("EdgeFunction", b"{}", edge=True)
    # Then none waited for a token: they never queued at the door (paced, 4 s at least)
    assert time.monotonic() - started < 2.0
