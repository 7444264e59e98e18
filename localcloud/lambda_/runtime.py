"""Runs each Lambda function in worker processes, through the Lambda Runtime API, within
Lambda's concurrency limits.

An invocation is first admitted against the account and reserved concurrency limits
(concurrency.py; past them: TooManyRequestsException, as Invoke's 429). It then takes an
idle worker of its function (warm), or starts a new one (cold, worker.py) when an init slot
is free; while the machine is saturated it waits briefly for a busy worker of its function
instead. A timeout kills the worker's whole process group, and a later invocation starts a
fresh one. Workers run the Lambda runtime's software, not the development venv
(environment.py).
"""

from __future__ import annotations

import logging
import queue
import random
import re
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from localcloud.lambda_.concurrency import (
    Concurrency,
    ConcurrencySettings,
    TooManyRequestsException,
)
from localcloud.lambda_.environment import RuntimeEnvironment, worker_environment
from localcloud.lambda_.forkserver import WorkerLauncher
from localcloud.lambda_.worker import (
    Exited,
    Handed,
    HandlerError,
    InitError,
    Invocation,
    Response,
    Worker,
    client_context_json,
    error_json,
)
from localcloud.spec import FunctionSpec

if TYPE_CHECKING:
    from localcloud.faults.rules import FaultRegistry, FaultRule
    from localcloud.xray.platform import LambdaTracer

logger = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase (imports, module code)
# Lambda keeps an asynchronous invocation that was throttled and retries it for up to 6 hours;
# localcloud retries with backoff until the runtime closes.
_ASYNC_RETRY_MAX_SECONDS = 5.0

__all__ = [
    "INIT_TIMEOUT_SECONDS",
    "ConcurrencySettings",
    "InvokeResult",
    "LambdaRuntime",
    "TooManyRequestsException",
    "parse_function_ref",
    "worker_environment",
]


@dataclass(frozen=True)
class InvokeResult:
    """What one invocation returned, as Lambda's Invoke API would report it."""

    payload: bytes  # the handler's JSON response, or the error JSON {"errorType", ...}
    function_error: str | None  # None on success, "Unhandled" on handler error/timeout/init
    cold_start: bool  # True when this invocation started a new worker
    duration_ms: float  # wall time inside localcloud for the invocation
    request_id: str = ""  # the invocation's aws_request_id
    # From the worker taken to the result: the init (cold) and the handler, without the
    # queueing before it; what Lambda bills (localcloud.billing).
    run_ms: float | None = None


class RuntimeObserver(Protocol):
    """Told what the runtime does, as Lambda's own metrics and logs see it (CloudWatch)."""

    def invoked(self, function: str, result: InvokeResult) -> None: ...

    def throttled(self, function: str) -> None: ...

    def output(self, function: str, line: str) -> None: ...


class _Observers(list[RuntimeObserver]):
    """The runtime's observers; one that fails is logged and does not disturb the runtime."""

    def invoked(self, function: str, result: InvokeResult) -> None:
        for observer in self:
            _tell(observer.invoked, function, result)

    def throttled(self, function: str) -> None:
        for observer in self:
            _tell(observer.throttled, function)

    def output(self, function: str, line: str) -> None:
        for observer in self:
            _tell(observer.output, function, line)


def _tell(method: Any, *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        logger.exception("runtime observer failed")


@dataclass(frozen=True)
class _Outcome:
    payload: bytes
    function_error: str | None = None
    keep_worker: bool = True
    timed_out: bool = False
    init_timed_out: bool = False


# --- the workers of one function ------------------------------------------------------


class _FunctionPool:
    """The execution environments of one function: idle ones are reused, LIFO."""

    def __init__(
        self,
        spec: FunctionSpec,
        runtime_environment: RuntimeEnvironment,
        environment: Mapping[str, str],
        concurrency: Concurrency,
        observers: _Observers | None = None,
        *,
        launcher: WorkerLauncher,
    ) -> None:
        self.spec = spec
        self._launcher = launcher
        self._observers = observers if observers is not None else _Observers()
        self._runtime_environment = runtime_environment
        self._environment = dict(environment)
        self._concurrency = concurrency
        self._lock = concurrency.lock  # one lock for the runtime: waiters see every release
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._busy = 0
        self._closed = False
        self._counts = {
            "invocations": 0,
            "cold_starts": 0,
            "errors": 0,
            "timeouts": 0,
            "init_timeouts": 0,
            "throttles": 0,
            "warm_waits": 0,
            "duration_ms_total": 0,  # admitted -> result, waits and init included
            "wait_ms_total": 0,  # admitted -> handed over, but for the init: the queueing
            "init_ms_total": 0,
        }

    def acquire(self, *, nested: bool = False) -> tuple[Worker, bool]:
        """An idle live worker (warm); else, while the machine is saturated and a worker of
        this function is busy, wait briefly for it (not when `nested`: the busy worker may
        be its caller's); else a new worker (cold) once an init slot is free."""
        concurrency = self._concurrency
        warm_until: float | None = None
        with self._lock:
            while True:
                self._check_open()
                worker = self._pop_idle()
                if worker is not None:
                    self._busy += 1
                    return worker, False
                now = time.monotonic()
                if warm_until is None and self._busy and not nested and concurrency.saturated():
                    warm_until = now + concurrency.settings.warm_wait_seconds
                    self._counts["warm_waits"] += 1
                waiting_for_warm = warm_until is not None and now < warm_until
                if concurrency.can_init() and not waiting_for_warm:
                    concurrency.start_init()
                    self._busy += 1
                    break
                concurrency.wait(warm_until if waiting_for_warm else None)
        try:
            return self._start_worker(), True
        except BaseException:
            with self._lock:
                self._busy -= 1
            raise

    def _pop_idle(self) -> Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
        return None

    def _start_worker(self) -> Worker:
        """A new worker, holding the init slot taken for it until its init is over."""
        try:
            worker = Worker(
                self.spec,
                self._runtime_environment.python,
                self._environment,
                launcher=self._launcher,
                on_exit=self._forget,
                on_settled=self._init_done,
                on_output=self._observers.output,
            )
        except BaseException:
            self._concurrency.end_init()
            raise
        with self._lock:
            closed = self._closed
            if not closed and not worker.exited:
                self._workers.add(worker)
        if closed:
            worker.kill()
            self._check_open()
        return worker

    def _init_done(self, worker: Worker) -> None:
        if worker.init_seconds is not None:
            with self._lock:
                self._counts["init_ms_total"] += round(worker.init_seconds * 1000)
        self._concurrency.end_init()

    def prewarm(self) -> Worker:
        """Start a worker outside any invocation (it takes an init slot like any other)."""
        with self._lock:
            while not self._concurrency.can_init():
                self._check_open()
                self._concurrency.wait(None)
            self._concurrency.start_init()
        return self._start_worker()

    def release(self, worker: Worker) -> None:
        with self._lock:
            if not self._closed and worker.alive and worker in self._workers:
                self._idle.append(worker)
                self._concurrency.wake()

    def discard(self, worker: Worker) -> None:
        worker.kill()
        self._forget(worker)

    def _forget(self, worker: Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
        worker.stop_server()

    def settle(self, worker: Worker, invocation: Invocation, outcome: _Outcome) -> None:
        worker.finish(invocation)
        with self._lock:
            self._busy -= 1
        if outcome.keep_worker:
            self.release(worker)
        else:
            self.discard(worker)
            with self._lock:
                self._concurrency.wake()  # a waiter for a warm worker should now go cold

    def count(
        self, outcome: _Outcome, cold_start: bool, duration_ms: float, waited_ms: float
    ) -> None:
        with self._lock:
            self._counts["invocations"] += 1
            self._counts["cold_starts"] += cold_start
            self._counts["errors"] += outcome.function_error is not None
            self._counts["timeouts"] += outcome.timed_out
            self._counts["init_timeouts"] += outcome.init_timed_out
            self._counts["duration_ms_total"] += round(duration_ms)
            self._counts["wait_ms_total"] += round(waited_ms)

    def count_throttle(self) -> None:
        with self._lock:
            self._counts["throttles"] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            live = sum(1 for worker in self._workers if worker.alive)
            return {
                **self._counts,
                "live_workers": live,
                "idle_workers": len(self._idle),
                "busy_workers": self._busy,
            }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
            self._concurrency.wake()
        for worker in workers:
            worker.kill()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("LambdaRuntime is closed")


def _await_outcome(worker: Worker, invocation: Invocation) -> _Outcome:
    """Hand the invocation to the worker and wait for its result, enforcing both limits."""
    worker.assign(invocation)
    deadline = time.monotonic() + INIT_TIMEOUT_SECONDS  # until the worker takes it
    handed = False
    while True:
        try:
            event = invocation.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return _timeout_outcome(invocation, handed)
        match event:
            case Handed(at=at):
                deadline, handed = at + invocation.timeout_seconds, True
            case Response(body=body):
                return _Outcome(body)
            case HandlerError(body=body):
                return _Outcome(body, "Unhandled")
            case InitError(body=body):
                return _Outcome(body, "Unhandled", keep_worker=False)
            case Exited(returncode=returncode):
                return _exit_outcome(invocation, returncode)


_LAMBDA_FAULTS = {"throttle", "latency", "kill-before", "kill-after", "timeout"}


def _faulty_outcome(fault: FaultRule | None, worker: Worker, invocation: Invocation) -> _Outcome:
    """The invocation's outcome, broken as the fault rule says: the worker killed before its
    handler runs, or after the handler's side effects (its answer never arrives), or the
    handler run and the invocation then ended as timed out."""
    action = fault.kind_action if fault is not None else None
    if action == "kill-before":
        worker.kill()
        return _exit_outcome(invocation, -signal.SIGKILL)
    outcome = _await_outcome(worker, invocation)
    if action not in {"kill-after", "timeout"} or not outcome.keep_worker:
        return outcome  # a worker that died or timed out on its own needs no help
    worker.kill()
    if action == "timeout":
        return _timeout_outcome(invocation, handed=True)
    return _exit_outcome(invocation, -signal.SIGKILL)


def _timeout_outcome(invocation: Invocation, handed: bool) -> _Outcome:
    if handed:
        what, seconds = "Task", float(invocation.timeout_seconds)
    else:
        what, seconds = "Init", INIT_TIMEOUT_SECONDS
    message = (
        f"RequestId: {invocation.request_id} Error: {what} timed out after {seconds:.2f} seconds"
    )
    return _Outcome(
        error_json("Sandbox.Timedout", message),
        "Unhandled",
        keep_worker=False,
        timed_out=True,
        init_timed_out=not handed,
    )


def _exit_outcome(invocation: Invocation, returncode: int) -> _Outcome:
    if returncode >= 0:
        reason = f"exit status {returncode}"
    else:
        reason = f"signal: {signal.Signals(-returncode).name}"
    message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {reason}"
    return _Outcome(error_json("Runtime.ExitError", message), "Unhandled", keep_worker=False)


# --- names ----------------------------------------------------------------------------

_FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$"
)


def parse_function_ref(name_or_arn: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, partial ARN or ARN; KeyError if malformed."""
    match = _FUNCTION_REF.match(name_or_arn)
    if match is None:
        raise KeyError(name_or_arn)
    return match["name"], match["qualifier"]


# --- the public face ------------------------------------------------------------------


class EdgeInvoker:
    """The runtime as API Gateway invokes it for a client's request that may start new work
    (POST, PUT, PATCH, DELETE): it waits for a running slot behind the work already inside
    (see concurrency.py)."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self._runtime = runtime

    def invoke(
        self, name_or_arn: str, payload: bytes, *, trace_header: str | None = None
    ) -> InvokeResult:
        return self._runtime.invoke(name_or_arn, payload, edge=True, trace_header=trace_header)


class LambdaRuntime:
    """Invokes the template's functions in worker processes, within the concurrency limits."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        base_environment: Mapping[str, str],
        *,
        concurrency: ConcurrencySettings | None = None,
        runtime_environment: RuntimeEnvironment | None = None,
    ) -> None:
        environment = runtime_environment or RuntimeEnvironment.default()
        environment.check()
        self._concurrency = Concurrency(
            concurrency or ConcurrencySettings(),
            {name: spec.reserved_concurrency for name, spec in functions.items()},
        )
        self.observers = _Observers()  # add_observer(): CloudWatch's metrics and EMF lines
        self._launcher = WorkerLauncher()
        self._pools = {
            name: _FunctionPool(
                spec,
                environment,
                worker_environment(spec, base_environment, environment),
                self._concurrency,
                self.observers,
                launcher=self._launcher,
            )
            for name, spec in functions.items()
        }
        self._closed = threading.Event()
        self.faults: FaultRegistry | None = None  # localcloud's fault rules for `lambda`
        self.tracer: LambdaTracer | None = None  # X-Ray: trace headers, Lambda's segments

    def function(self, name_or_arn: str) -> FunctionSpec:
        return self._pool(name_or_arn).spec

    def add_observer(self, observer: RuntimeObserver) -> None:
        self.observers.append(observer)

    def invoke(
        self,
        name_or_arn: str,
        payload: bytes,
        *,
        client_context: str | None = None,
        nested: bool = False,
        edge: bool = False,
        trace_header: str | None = None,
    ) -> InvokeResult:
        """Run one synchronous invocation; TooManyRequestsException when it is throttled.
        `nested`: made by a running invocation that waits for it (no wait for a running
        slot); `edge`: a client's new request (API Gateway), which waits behind the work
        already inside (see concurrency.py). `trace_header`: the caller's X-Amzn-Trace-Id."""
        started = time.perf_counter()
        pool = self._pool(name_or_arn)
        spec = pool.spec
        fault = self._draw_fault(spec.name)
        try:
            if fault is not None and fault.kind_action == "throttle":
                raise TooManyRequestsException(spec.name, "ConcurrentInvocationLimitExceeded")
            self._concurrency.admit(spec.name)
        except TooManyRequestsException as throttled:
            pool.count_throttle()
            self.observers.throttled(spec.name)
            logger.info(
                "invocation throttled", extra={"function": spec.name, "reason": throttled.reason}
            )
            raise
        try:
            _, qualifier = parse_function_ref(name_or_arn)
            traced = self.tracer.begin(spec.name, trace_header) if self.tracer else None
            invocation = Invocation(
                payload,
                spec.arn if qualifier is None else f"{spec.arn}:{qualifier}",
                spec.timeout_seconds,
                client_context_json(client_context),
                str(traced.header) if traced is not None else None,
            )
            # A running slot first (the CPU), then a worker: a worker is held only while
            # its invocation can run, so a function's few warm workers serve its burst.
            self._concurrency.start_running(nested=nested, edge=edge)
            try:
                worker, cold_start = pool.acquire(nested=nested)
                acquired = time.perf_counter()
                outcome = _faulty_outcome(fault, worker, invocation)
            finally:
                self._concurrency.end_running(edge=edge)
            pool.settle(worker, invocation, outcome)
        finally:
            self._concurrency.leave(spec.name)
        duration_ms = (time.perf_counter() - started) * 1000
        pool.count(outcome, cold_start, duration_ms, (acquired - started) * 1000)
        if outcome.function_error is not None:
            logger.info(
                "invocation failed",
                extra={"function": spec.name, "request_id": invocation.request_id},
            )
        result = InvokeResult(
            payload=outcome.payload,
            function_error=outcome.function_error,
            cold_start=cold_start,
            duration_ms=duration_ms,
            request_id=invocation.request_id,
            run_ms=duration_ms - (acquired - started) * 1000,
        )
        if self.tracer is not None and traced is not None:
            self.tracer.end(
                traced,
                request_id=invocation.request_id,
                function_error=outcome.function_error,
                payload=outcome.payload,
                cold_start=cold_start,
            )
        self.observers.invoked(spec.name, result)
        return result

    def _draw_fault(self, function: str) -> FaultRule | None:
        """The fault rule for this invocation (service `lambda`), if one fires; its latency is
        spent here, before the invocation is admitted."""
        if self.faults is None:
            return None
        fault = self.faults.draw("lambda", "Invoke", function=function, actions=_LAMBDA_FAULTS)
        if fault is not None:
            logger.info("fault injected", extra={"function": function, "fault": fault.kind})
            if fault.latency and fault.kind_action == "latency":
                time.sleep(fault.latency / 1000)
        return fault

    def invoke_async(self, name_or_arn: str, payload: bytes) -> None:
        """An `Event` invocation: queued, run in the background, retried while throttled."""
        self._pool(name_or_arn)  # an unknown function is refused now, as Invoke does
        threading.Thread(
            target=self._run_async, args=(name_or_arn, payload), daemon=True, name="lambda-async"
        ).start()

    def _run_async(self, name_or_arn: str, payload: bytes) -> None:
        delay = 0.05
        while not self._closed.is_set():
            try:
                self.invoke(name_or_arn, payload)
                return
            except TooManyRequestsException:
                self._closed.wait(random.uniform(0, delay))  # full jitter
                delay = min(delay * 2, _ASYNC_RETRY_MAX_SECONDS)
            except RuntimeError:  # closed while it ran
                return

    def prewarm(self, name: str) -> None:
        """Start one worker, wait for its init, and leave it idle (no cold start later)."""
        pool = self._pool(name)
        worker = pool.prewarm()
        if worker.wait_ready(INIT_TIMEOUT_SECONDS):
            pool.release(worker)
            return
        logger.warning(
            "prewarm failed", extra={"function": pool.spec.name, "init_error": worker.init_error}
        )
        pool.discard(worker)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function: invocations, cold starts, errors, timeouts (init timeouts among
        them), throttles, warm waits, total duration and init ms, live/idle/busy workers."""
        return {name: pool.stats() for name, pool in self._pools.items()}

    def concurrency_stats(self) -> dict[str, Any]:
        """The account's limits and what is in flight now."""
        return self._concurrency.stats()

    def close(self) -> None:
        """Kill every worker (whole process groups) and stop their Runtime API servers."""
        self._closed.set()
        for pool in self._pools.values():
            pool.close()
        self._launcher.close()

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pool(self, name_or_arn: str) -> _FunctionPool:
        name, _ = parse_function_ref(name_or_arn)
        try:
            return self._pools[name]
        except KeyError:
            raise KeyError(f"Function not found: {name_or_arn}") from None
