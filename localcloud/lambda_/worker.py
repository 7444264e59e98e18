"""One Lambda execution environment: an awslambdaric process and its own Runtime API server.

A worker is `python -m awslambdaric <handler>` (AWS's own runtime interface client), run by
the Lambda runtime's interpreter (see environment.py) or forked as that process by a fork
server that has imported the libraries already (see forkserver.py), talking to a small Runtime
API server of its own (one port on 127.0.0.1, served by threads). An invocation travels to it
as an `Invocation` and comes back as events on the invocation's queue.
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
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

from localcloud.lambda_.forkserver import WorkerLauncher, WorkerProcess
from localcloud.spec import FunctionSpec

logger = logging.getLogger("localcloud.lambda_.runtime")

_API = "/2018-06-01/runtime"
_NEXT_PATH = f"{_API}/invocation/next"
_INIT_ERROR_PATH = f"{_API}/init/error"
_RESULT_PATH = re.compile(rf"^{_API}/invocation/(?P<request_id>[^/]+)/(?P<kind>response|error)$")
_ACCEPTED_BODY = b'{"status":"OK"}'
_KILL_WAIT_SECONDS = 5.0


# --- events an invocation waits for ------------------------------------------------------


@dataclass(frozen=True)
class Handed:
    """The worker took the invocation from /next: the function's timeout starts now."""

    at: float  # time.monotonic()


@dataclass(frozen=True)
class Response:
    body: bytes


@dataclass(frozen=True)
class HandlerError:
    body: bytes


@dataclass(frozen=True)
class InitError:
    body: bytes


@dataclass(frozen=True)
class Exited:
    returncode: int


Event = Handed | Response | HandlerError | InitError | Exited


class Invocation:
    """One request travelling from invoke() to a worker and back."""

    def __init__(
        self,
        payload: bytes,
        invoked_arn: str,
        timeout_seconds: int,
        client_context: str | None,
        trace_header: str | None = None,
    ) -> None:
        self.request_id = str(uuid.uuid4())
        # Lambda-Runtime-Trace-Id: the runtime client puts it in _X_AMZN_TRACE_ID for the
        # handler (X-Ray, Powertools' xray_trace_id, botocore's forwarded header).
        self.trace_header = trace_header or _new_trace_id()
        self.payload = payload
        self.invoked_arn = invoked_arn
        self.timeout_seconds = timeout_seconds
        self.client_context = client_context
        self.events: queue.Queue[Event] = queue.Queue()

    def next_headers(self) -> dict[str, str]:
        """The headers of the /next response; the deadline counts from this moment."""
        deadline_ms = int(time.time() * 1000) + self.timeout_seconds * 1000
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_arn,
            "Lambda-Runtime-Trace-Id": self.trace_header,
        }
        if self.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        return headers


def _new_trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


def client_context_json(client_context: str | None) -> str | None:
    """The JSON text for the runtime header; accepts it plain or base64 (as the Invoke API)."""
    if client_context is None or client_context.lstrip().startswith("{"):
        return client_context
    try:
        return base64.b64decode(client_context, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return client_context


def error_json(error_type: str, message: str) -> bytes:
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
            self._reply(HTTPStatus.NOT_FOUND, error_json("NotFound", self.path))
            return
        invocation = self.server.worker.next_invocation()
        if invocation is None:  # the worker is being stopped
            self.close_connection = True
            self._reply(HTTPStatus.GONE, error_json("WorkerStopped", "worker is stopping"))
            return
        self._reply(HTTPStatus.OK, invocation.payload, invocation.next_headers())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        worker = self.server.worker
        if self.path == _INIT_ERROR_PATH:
            accepted = worker.post_init_error(body)
        elif match := _RESULT_PATH.match(self.path):
            event: Event = Response(body) if match["kind"] == "response" else HandlerError(body)
            accepted = worker.post_result(match["request_id"], event)
        else:
            self._reply(HTTPStatus.NOT_FOUND, error_json("NotFound", self.path))
            return
        if accepted:
            self._reply(HTTPStatus.ACCEPTED, _ACCEPTED_BODY)
        else:
            self._reply(
                HTTPStatus.BAD_REQUEST, error_json("InvalidRequestID", "Invalid request ID")
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

    def __init__(self, worker: Worker) -> None:
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


class Worker:
    """One execution environment: an awslambdaric process and its Runtime API server."""

    def __init__(
        self,
        spec: FunctionSpec,
        python: Path,
        environment: Mapping[str, str],
        on_exit: Callable[[Worker], None],
        on_settled: Callable[[Worker], None] | None = None,
        *,
        launcher: WorkerLauncher,
        on_output: Callable[[str, str], None] | None = None,
    ) -> None:
        self.name = spec.name
        self._on_exit = on_exit
        self._on_settled = on_settled
        self._on_output = on_output  # (function name, line): e.g. CloudWatch's EMF extraction
        self.ready = threading.Event()  # set once the worker asked for its first invocation
        self._settled = threading.Event()  # set once it is ready, or has exited
        self.init_seconds: float | None = None  # how long init took, once ready
        self.init_error: bytes | None = None
        self._lock = threading.Lock()
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
        self._current: Invocation | None = None
        self._handed = False
        self._returncode: int | None = None
        self._server = _RuntimeApiServer(self)
        self._spawned_at = time.monotonic()
        self._process: WorkerProcess
        env = {**environment, "AWS_LAMBDA_RUNTIME_API": self._server.address}
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = _log_stream_name()
        try:
            self._process = launcher.start(
                python, "awslambdaric", [spec.handler], env, str(spec.code_dir)
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
    def assign(self, invocation: Invocation) -> None:
        with self._lock:
            returncode = self._returncode
            if returncode is None:
                self._current, self._handed = invocation, False
        if returncode is not None:
            invocation.events.put(Exited(returncode))
            return
        self._inbox.put(invocation)

    def finish(self, invocation: Invocation) -> None:
        with self._lock:
            if self._current is invocation:
                self._current = None

    # Called by the Runtime API server threads.
    def next_invocation(self) -> Invocation | None:
        if not self.ready.is_set():
            self.init_seconds = time.monotonic() - self._spawned_at
            logger.debug(
                "worker %s (pid %s) ready in %.1f ms", self.name, self.pid, self.init_seconds * 1000
            )
            self.ready.set()
            self._settle()
        invocation = self._inbox.get()
        if invocation is None:
            return None
        with self._lock:
            self._handed = self._current is invocation
        invocation.events.put(Handed(time.monotonic()))
        return invocation

    def post_result(self, request_id: str, event: Event) -> bool:
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
            invocation.events.put(InitError(body))
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
                if self._on_output is not None:
                    self._on_output(self.name, text)

    def _wait_for_exit(self) -> None:
        returncode = self._process.wait()
        with self._lock:
            self._returncode = returncode
            invocation = self._current
        self._settle()
        logger.debug("worker %s (pid %s) exited with %s", self.name, self.pid, returncode)
        if invocation is not None:
            invocation.events.put(Exited(returncode))
        self._on_exit(self)

    def _settle(self) -> None:
        """Init is over (ready, failed or killed): tell the owner once."""
        with self._lock:
            first = not self._settled.is_set()
            self._settled.set()
        if first and self._on_settled is not None:
            self._on_settled(self)

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
