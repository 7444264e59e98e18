"""Runs each Lambda function in its own worker processes, through the Lambda Runtime API.

A worker is `python -m awslambdaric <handler>` (AWS's own runtime interface client) talking
to a small Runtime API server of its own (one port on 127.0.0.1, served by threads). The
first invocation of a function starts a worker (cold start); an idle worker is reused
(warm); concurrent invocations get separate workers. A timeout kills the worker's whole
process group, and the next invocation starts a fresh one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import queue
import re
import secrets
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO

from localcloud.spec import REGION, FunctionSpec

logger = logging.getLogger(__name__)

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase (imports, module code)
EXECUTION_ENV = "AWS_Lambda_python3.11"
_API = "/2018-06-01/runtime"
_NEXT_PATH = f"{_API}/invocation/next"
_INIT_ERROR_PATH = f"{_API}/init/error"
_RESULT_PATH = re.compile(rf"^{_API}/invocation/(?P<request_id>[^/]+)/(?P<kind>response|error)$")
_ACCEPTED_BODY = b'{"status":"OK"}'
_KILL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class InvokeResult:
    """What one invocation returned, as Lambda's Invoke API would report it."""

    payload: bytes  # the handler's JSON response, or the error JSON {"errorType", ...}
    function_error: str | None  # None on success, "Unhandled" on handler error/timeout/init
    cold_start: bool  # True when this invocation started a new worker
    duration_ms: float  # wall time inside localcloud for the invocation
    request_id: str = ""  # the invocation's aws_request_id


# --- events an invocation waits for ------------------------------------------------------


@dataclass(frozen=True)
class _Handed:
    """The worker took the invocation from /next: the function's timeout starts now."""

    at: float  # time.monotonic()


@dataclass(frozen=True)
class _Response:
    body: bytes


@dataclass(frozen=True)
class _HandlerError:
    body: bytes


@dataclass(frozen=True)
class _InitError:
    body: bytes


@dataclass(frozen=True)
class _Exited:
    returncode: int


_Event = _Handed | _Response | _HandlerError | _InitError | _Exited


@dataclass(frozen=True)
class _Outcome:
    payload: bytes
    function_error: str | None = None
    keep_worker: bool = True
    timed_out: bool = False


class _Invocation:
    """One request travelling from invoke() to a worker and back."""

    def __init__(
        self, payload: bytes, invoked_arn: str, timeout_seconds: int, client_context: str | None
    ) -> None:
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.invoked_arn = invoked_arn
        self.timeout_seconds = timeout_seconds
        self.client_context = client_context
        self.events: queue.Queue[_Event] = queue.Queue()

    def next_headers(self) -> dict[str, str]:
        """The headers of the /next response; the deadline counts from this moment."""
        deadline_ms = int(time.time() * 1000) + self.timeout_seconds * 1000
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_arn,
            "Lambda-Runtime-Trace-Id": _new_trace_id(),
        }
        if self.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        return headers


def _new_trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


def _client_context_json(client_context: str | None) -> str | None:
    """The JSON text for the runtime header; accepts it plain or base64 (as the Invoke API)."""
    if client_context is None or client_context.lstrip().startswith("{"):
        return client_context
    try:
        return base64.b64decode(client_context, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return client_context


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


# --- the Runtime API server of one worker ----------------------------------------------


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    """The four Runtime API routes awslambdaric calls."""

    protocol_version = "HTTP/1.1"
    server: _RuntimeApiServer

    def setup(self) -> None:
        super().setup()
        # Small request/response pairs on a kept-alive connection: without this, Nagle's
        # algorithm and the peer's delayed ACK add ~40 ms to an exchange.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        if self.path != _NEXT_PATH:
            self._reply(HTTPStatus.NOT_FOUND, _error_json("NotFound", self.path))
            return
        invocation = self.server.worker.next_invocation()
        if invocation is None:  # the worker is being stopped
            self.close_connection = True
            self._reply(HTTPStatus.GONE, _error_json("WorkerStopped", "worker is stopping"))
            return
        self._reply(HTTPStatus.OK, invocation.payload, invocation.next_headers())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        worker = self.server.worker
        if self.path == _INIT_ERROR_PATH:
            accepted = worker.post_init_error(body)
        elif match := _RESULT_PATH.match(self.path):
            event: _Event = _Response(body) if match["kind"] == "response" else _HandlerError(body)
            accepted = worker.post_result(match["request_id"], event)
        else:
            self._reply(HTTPStatus.NOT_FOUND, _error_json("NotFound", self.path))
            return
        if accepted:
            self._reply(HTTPStatus.ACCEPTED, _ACCEPTED_BODY)
        else:
            self._reply(
                HTTPStatus.BAD_REQUEST, _error_json("InvalidRequestID", "Invalid request ID")
            )

    def _reply(
        self, status: HTTPStatus, body: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send the whole response in one write (one TCP segment for small bodies)."""
        lines = [f"HTTP/1.1 {status.value} {status.phrase}", f"Content-Length: {len(body)}"]
        all_headers = headers or {"Content-Type": "application/json"}
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("runtime api %s: " + format, self.server.worker.name, *args)


class _RuntimeApiServer(ThreadingHTTPServer):
    """Listens on an ephemeral 127.0.0.1 port; one thread per connection."""

    daemon_threads = True

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self._stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self._thread = threading.Thread(
            target=self._serve, name=f"runtime-api-{worker.name}", daemon=True
        )
        self._thread.start()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def _serve(self) -> None:
        # handle_request() blocks in select() without polling; stop() wakes it up by
        # shutting the listening socket down (accept then fails and the loop ends).
        while not self._stopping.is_set():
            self.handle_request()

    def handle_error(self, request: object, client_address: object) -> None:
        logger.debug("runtime api %s: connection error", self.worker.name, exc_info=True)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("runtime api %s: socket already closed", self.worker.name)
        self._thread.join(timeout=_KILL_WAIT_SECONDS)
        self.server_close()


# --- one worker: a process, its Runtime API server, its output ------------------------


class _Worker:
    """One execution environment: an awslambdaric process and its Runtime API server."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        on_exit: Callable[[_Worker], None],
    ) -> None:
        self.name = spec.name
        self._on_exit = on_exit
        self.ready = threading.Event()  # set once the worker asked for its first invocation
        self._settled = threading.Event()  # set once it is ready, or has exited
        self.init_error: bytes | None = None
        self._lock = threading.Lock()
        self._inbox: queue.Queue[_Invocation | None] = queue.Queue()
        self._current: _Invocation | None = None
        self._handed = False
        self._returncode: int | None = None
        self._server = _RuntimeApiServer(self)
        self._spawned_at = time.monotonic()
        env = {**environment, "AWS_LAMBDA_RUNTIME_API": self._server.address}
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = _log_stream_name()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", spec.handler],
                cwd=spec.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout kills all of it
            )
        except OSError:  # e.g. a CodeUri folder that does not exist
            self._server.stop()
            raise
        self.pid = self._process.pid
        self._start_thread(self._forward_output, "output")
        self._start_thread(self._wait_for_exit, "waiter")

    def _start_thread(self, target: Callable[[], None], role: str) -> None:
        threading.Thread(target=target, name=f"{self.name}-{self.pid}-{role}", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._returncode is None and self._process.poll() is None

    @property
    def exited(self) -> bool:
        return self._returncode is not None

    def wait_ready(self, timeout: float) -> bool:
        """True once init is done and the worker waits for an invocation."""
        self._settled.wait(timeout)
        return self.ready.is_set() and self.alive

    # Called by invoke(): hand one invocation over.
    def assign(self, invocation: _Invocation) -> None:
        with self._lock:
            returncode = self._returncode
            if returncode is None:
                self._current, self._handed = invocation, False
        if returncode is not None:
            invocation.events.put(_Exited(returncode))
            return
        self._inbox.put(invocation)

    def finish(self, invocation: _Invocation) -> None:
        with self._lock:
            if self._current is invocation:
                self._current = None

    # Called by the Runtime API server threads.
    def next_invocation(self) -> _Invocation | None:
        if not self.ready.is_set():
            init_ms = (time.monotonic() - self._spawned_at) * 1000
            logger.debug("worker %s (pid %s) ready in %.1f ms", self.name, self.pid, init_ms)
            self.ready.set()
            self._settled.set()
        invocation = self._inbox.get()
        if invocation is None:
            return None
        with self._lock:
            self._handed = self._current is invocation
        invocation.events.put(_Handed(time.monotonic()))
        return invocation

    def post_result(self, request_id: str, event: _Event) -> bool:
        with self._lock:
            invocation = self._current if self._handed else None
        if invocation is None or invocation.request_id != request_id:
            return False
        invocation.events.put(event)
        return True

    def post_init_error(self, body: bytes) -> bool:
        with self._lock:
            if self.ready.is_set() or self.init_error is not None:
                return False
            self.init_error, invocation = body, self._current
        if invocation is not None:
            invocation.events.put(_InitError(body))
        return True

    # Process life.
    def _forward_output(self) -> None:
        out = logging.getLogger(f"localcloud.lambda.{self.name}")
        stream: IO[bytes] | None = self._process.stdout
        if stream is None:
            return
        with stream:
            for raw in stream:
                # awslambdaric joins the lines of one error record with "\r".
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n").replace("\r", "\n")
                out.info("[%s] %s", self.name, text)

    def _wait_for_exit(self) -> None:
        returncode = self._process.wait()
        with self._lock:
            self._returncode = returncode
            invocation = self._current
        self._settled.set()
        logger.debug("worker %s (pid %s) exited with %s", self.name, self.pid, returncode)
        if invocation is not None:
            invocation.events.put(_Exited(returncode))
        self._on_exit(self)

    def kill(self) -> None:
        """Kill the whole process group, reap it and stop the Runtime API server."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            logger.debug("worker %s (pid %s) already gone", self.name, self.pid)
        try:
            self._process.wait(timeout=_KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("worker %s (pid %s) did not die", self.name, self.pid)
        self.stop_server()

    def stop_server(self) -> None:
        self._inbox.put(None)  # frees a /next request blocked on the inbox
        self._server.stop()


def _log_stream_name() -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


# --- the workers of one function ------------------------------------------------------


class _FunctionPool:
    """The execution environments of one function: idle ones are reused, LIFO."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        self.spec = spec
        self._environment = dict(environment)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._closed = False
        self._counts = {"invocations": 0, "cold_starts": 0, "errors": 0, "timeouts": 0}

    def acquire(self) -> tuple[_Worker, bool]:
        """An idle live worker (warm), else a new one (cold)."""
        with self._lock:
            self._check_open()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker, False
        return self.start_worker(), True

    def start_worker(self) -> _Worker:
        worker = _Worker(self.spec, self._environment, on_exit=self._forget)
        with self._lock:
            closed = self._closed
            if not closed and not worker.exited:
                self._workers.add(worker)
        if closed:
            worker.kill()
            self._check_open()
        return worker

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed and worker.alive and worker in self._workers:
                self._idle.append(worker)

    def discard(self, worker: _Worker) -> None:
        worker.kill()
        self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
        worker.stop_server()

    def settle(self, worker: _Worker, invocation: _Invocation, outcome: _Outcome) -> None:
        worker.finish(invocation)
        if outcome.keep_worker:
            self.release(worker)
        else:
            self.discard(worker)

    def count(self, outcome: _Outcome, cold_start: bool) -> None:
        with self._lock:
            self._counts["invocations"] += 1
            self._counts["cold_starts"] += cold_start
            self._counts["errors"] += outcome.function_error is not None
            self._counts["timeouts"] += outcome.timed_out

    def stats(self) -> dict[str, int]:
        with self._lock:
            live = sum(1 for worker in self._workers if worker.alive)
            return {**self._counts, "live_workers": live, "idle_workers": len(self._idle)}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("LambdaRuntime is closed")


def _await_outcome(worker: _Worker, invocation: _Invocation) -> _Outcome:
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
            case _Handed(at=at):
                deadline, handed = at + invocation.timeout_seconds, True
            case _Response(body=body):
                return _Outcome(body)
            case _HandlerError(body=body):
                return _Outcome(body, "Unhandled")
            case _InitError(body=body):
                return _Outcome(body, "Unhandled", keep_worker=False)
            case _Exited(returncode=returncode):
                return _exit_outcome(invocation, returncode)


def _timeout_outcome(invocation: _Invocation, handed: bool) -> _Outcome:
    if handed:
        what, seconds = "Task", float(invocation.timeout_seconds)
    else:
        what, seconds = "Init", INIT_TIMEOUT_SECONDS
    message = (
        f"RequestId: {invocation.request_id} Error: {what} timed out after {seconds:.2f} seconds"
    )
    return _Outcome(
        _error_json("Sandbox.Timedout", message), "Unhandled", keep_worker=False, timed_out=True
    )


def _exit_outcome(invocation: _Invocation, returncode: int) -> _Outcome:
    if returncode >= 0:
        reason = f"exit status {returncode}"
    else:
        reason = f"signal: {signal.Signals(-returncode).name}"
    message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {reason}"
    return _Outcome(_error_json("Runtime.ExitError", message), "Unhandled", keep_worker=False)


# --- names and environment ------------------------------------------------------------

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


def worker_environment(spec: FunctionSpec, base_environment: Mapping[str, str]) -> dict[str, str]:
    """The environment of the function's workers, as Lambda builds it (minus the per-worker
    AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_LOG_STREAM_NAME)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update({"TZ": ":UTC", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    env.update(base_environment)
    env.update(spec.environment)
    code_dir = str(spec.code_dir)
    env.update(  # reserved: Lambda sets these whatever the template says
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": EXECUTION_ENV,
            "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([code_dir, *(str(d) for d in spec.layer_dirs)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# --- the public face ------------------------------------------------------------------


class LambdaRuntime:
    """Invokes the template's functions, each invocation in a worker process of its own."""

    def __init__(
        self, functions: Mapping[str, FunctionSpec], base_environment: Mapping[str, str]
    ) -> None:
        self._pools = {
            name: _FunctionPool(spec, worker_environment(spec, base_environment))
            for name, spec in functions.items()
        }

    def function(self, name_or_arn: str) -> FunctionSpec:
        return self._pool(name_or_arn).spec

    def invoke(
        self, name_or_arn: str, payload: bytes, *, client_context: str | None = None
    ) -> InvokeResult:
        started = time.perf_counter()
        pool = self._pool(name_or_arn)
        spec = pool.spec
        _, qualifier = parse_function_ref(name_or_arn)
        invocation = _Invocation(
            payload,
            spec.arn if qualifier is None else f"{spec.arn}:{qualifier}",
            spec.timeout_seconds,
            _client_context_json(client_context),
        )
        worker, cold_start = pool.acquire()
        outcome = _await_outcome(worker, invocation)
        pool.settle(worker, invocation, outcome)
        pool.count(outcome, cold_start)
        if outcome.function_error is not None:
            logger.info(
                "invocation failed",
                extra={"function": spec.name, "request_id": invocation.request_id},
            )
        return InvokeResult(
            payload=outcome.payload,
            function_error=outcome.function_error,
            cold_start=cold_start,
            duration_ms=(time.perf_counter() - started) * 1000,
            request_id=invocation.request_id,
        )

    def prewarm(self, name: str) -> None:
        """Start one worker, wait for its init, and leave it idle (no cold start later)."""
        pool = self._pool(name)
        worker = pool.start_worker()
        if worker.wait_ready(INIT_TIMEOUT_SECONDS):
            pool.release(worker)
            return
        logger.warning(
            "prewarm failed", extra={"function": pool.spec.name, "init_error": worker.init_error}
        )
        pool.discard(worker)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function: invocations, cold_starts, errors, timeouts, live/idle workers."""
        return {name: pool.stats() for name, pool in self._pools.items()}

    def close(self) -> None:
        """Kill every worker (whole process groups) and stop their Runtime API servers."""
        for pool in self._pools.values():
            pool.close()

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
