"""How a worker process starts: forked from a preloaded interpreter, or a fresh one.

A Lambda cold start here used to be a fresh `python -m awslambdaric <handler>`: some 0.45 s of
CPU on this 2-core machine for ConfirmOrder, of which about 0.35 s is importing what every
function imports (boto3, botocore, pydantic, Powertools). A 200-order burst starts some 23
workers, so on 2 cores that was seconds of CPU taken from the orders, and the first orders of
the burst waited for it. A fork server (forkserver_process.py, run by the Lambda runtime's
interpreter) imports those libraries once; each new worker is a fork of it that goes on
exactly as `python -m awslambdaric <handler>` in the function's folder would: its own session
and process group, the function's environment, its folder first on sys.path, then `runpy`
runs awslambdaric's __main__, which imports the handler module (the function's own init,
timed and limited as before). The same idea as multiprocessing's "forkserver" start method,
and as Lambda SnapStart (init once, resume many), but only for the libraries: the function's
own init runs in every worker, as on Lambda without SnapStart.

What keeps it faithful:
- the server runs the same interpreter with the same PYTHONPATH (the built layer, not the
  development environment), so a module the layer lacks still fails to import;
- it records every environment variable its imports read (boto3 reads HOME at import,
  Powertools POWERTOOLS_DEBUG, ...; and the two pydantic_core reads in native code), and a
  function is forked from it only when its environment has the same values for those, and
  for the variables the interpreter itself reads at startup (PYTHON*, LANG, LC_*, TZ).
  Otherwise another server is started for that environment;
- a function whose code folder holds a name the server has imported (say a vendored boto3)
  is refused, and starts as a fresh interpreter (its copy must win, as on Lambda);
- `random` reseeds itself in a forked child; uuid and secrets read the OS.

What differs, on purpose: the init duration (the fork skips the library imports, so inits
are shorter than on Lambda; bench/cold_start.py measures fresh interpreters as Lambda runs
them), str hashing's random seed, which forked workers share, the preloaded modules a worker
holds even when its function would not import them, and where the preload's own output goes
(e.g. Powertools' UserWarning under POWERTOOLS_DEBUG): localcloud's stderr, once per server,
not the function's log.

The setting LOCALCLOUD_LAMBDA_FORKSERVER=0 starts every worker as a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

logger = logging.getLogger("localcloud.lambda_.runtime")

FORKSERVER_VARIABLE = "LOCALCLOUD_LAMBDA_FORKSERVER"
_SCRIPT = Path(__file__).with_name("forkserver_process.py")
_HEADER = struct.Struct("!I")  # the request's length, as forkserver_process reads it
_PER_WORKER = ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME")
_START_TIMEOUT_SECONDS = 60.0


class WorkerProcess(Protocol):
    """What Worker needs of its process (subprocess.Popen has it)."""

    pid: int
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def forkserver_enabled() -> bool:
    return os.environ.get(FORKSERVER_VARIABLE, "1").strip().lower() not in ("0", "false", "no")


def _interpreter_startup_keys(env: Mapping[str, str]) -> set[str]:
    """Variables the interpreter reads before any import could be traced (PYTHONPATH is
    compared on its own: the function's folder is its first entry)."""
    keys = {key for key in env if key.startswith(("PYTHON", "LC_")) and key != "PYTHONPATH"}
    return keys | {"LANG", "TZ"}


def _library_path(env: Mapping[str, str], cwd: str) -> tuple[str, ...]:
    """PYTHONPATH without the function's own folder: what the server may import from."""
    entries = env.get("PYTHONPATH", "").split(os.pathsep)
    return tuple(entry for entry in entries if entry and entry != cwd)


class ForkedProcess:
    """A worker forked by a fork server; its exit status comes over the request's connection."""

    def __init__(
        self, pid: int, connection: socket.socket, stdout: IO[bytes], pending: bytes
    ) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._connection = connection
        self._buffer = pending
        self._lock = threading.Lock()  # one reader of the connection at a time
        self._take_message()

    def poll(self) -> int | None:
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                self._read(0.0)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
        try:
            while self.returncode is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
                self._read(remaining)
        finally:
            self._lock.release()
        return self.returncode

    def _read(self, timeout: float | None) -> None:
        self._connection.settimeout(timeout)
        try:
            data = self._connection.recv(4096)
        except (TimeoutError, BlockingIOError):
            return
        except OSError:
            data = b""
        if not data:
            self._server_gone()
            return
        self._buffer += data
        self._take_message()

    def _take_message(self) -> None:
        line, newline, self._buffer = self._buffer.partition(b"\n")
        if newline:
            self.returncode = int(json.loads(line)["exit"])
            self._connection.close()

    def _server_gone(self) -> None:
        """The fork server ended before the worker: nobody can tell its exit status any more,
        so make sure it is gone and report it killed."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.returncode = -signal.SIGKILL
        self._connection.close()
        logger.warning("fork server gone: worker pid %s killed", self.pid)


class ForkServer:
    """One forkserver_process: its interpreter, its library path, the environment it read."""

    def __init__(self, python: Path, env: Mapping[str, str], cwd: str) -> None:
        self.python = python
        self.library_path = _library_path(env, cwd)
        self._address = f"\0localcloud-forkserver-{uuid.uuid4().hex}"
        server_env = {key: value for key, value in env.items() if key not in _PER_WORKER}
        server_env["PYTHONPATH"] = os.pathsep.join(self.library_path)
        self._process = subprocess.Popen(
            [str(python), str(_SCRIPT), self._address[1:]],
            env=server_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        handshake = self._read_handshake()
        read: dict[str, str | None] = handshake["environment"]
        self._expected = {key: server_env.get(key) for key in _interpreter_startup_keys(server_env)}
        self._expected.update(read)
        logger.debug(
            "fork server pid %s for %s: preloaded %s; compares %s",
            self._process.pid,
            self.library_path,
            handshake["preloaded"],
            sorted(self._expected),
        )

    def _read_handshake(self) -> dict[str, dict[str, str | None]]:
        stdout = self._process.stdout
        assert stdout is not None
        timer = threading.Timer(_START_TIMEOUT_SECONDS, self._process.kill)
        timer.start()
        try:
            line = stdout.readline()
        finally:
            timer.cancel()
        if not line:
            self.close()
            returncode = self._process.wait()
            raise RuntimeError(f"fork server exited with {returncode} before its handshake")
        handshake: dict[str, dict[str, str | None]] = json.loads(line)
        return handshake

    def accepts(self, python: Path, env: Mapping[str, str], cwd: str) -> bool:
        if python != self.python or _library_path(env, cwd) != self.library_path:
            return False
        keys = set(self._expected) | _interpreter_startup_keys(env)
        return all(env.get(key) == self._expected.get(key) for key in keys)

    def fork(
        self, module: str, args: Sequence[str], env: Mapping[str, str], cwd: str
    ) -> ForkedProcess | str:
        """The forked worker, or why the server refused (then start a fresh interpreter)."""
        payload = json.dumps({"argv": [module, *args], "env": dict(env), "cwd": cwd}).encode()
        data = _HEADER.pack(len(payload)) + payload
        read_fd, write_fd = os.pipe()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self._address)
            sent = socket.send_fds(connection, [data], [write_fd])
            if sent < len(data):
                connection.sendall(data[sent:])
            answer, pending = _read_line(connection)
        except BaseException:
            connection.close()
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        message = json.loads(answer)
        if "pid" not in message:
            connection.close()
            os.close(read_fd)
            return str(message.get("refused", message))
        return ForkedProcess(int(message["pid"]), connection, os.fdopen(read_fd, "rb"), pending)

    def close(self) -> None:
        """Closing stdin ends the server (its workers are killed by their owners)."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _read_line(connection: socket.socket) -> tuple[bytes, bytes]:
    """The first line on the connection, and whatever came after it."""
    buffer = b""
    while b"\n" not in buffer:
        data = connection.recv(4096)
        if not data:
            raise ConnectionError("fork server closed the connection without an answer")
        buffer += data
    line, _, rest = buffer.partition(b"\n")
    return line, rest


class WorkerLauncher:
    """Starts worker processes: forked by a fork server whose environment fits, else (the
    setting off, a refusal, or a server that would not start) a fresh interpreter."""

    def __init__(self, use_forkserver: bool | None = None) -> None:
        self._use_forkserver = forkserver_enabled() if use_forkserver is None else use_forkserver
        self._lock = threading.Lock()  # a server is started once, by the first cold start
        self._servers: list[ForkServer] = []
        self._fresh: set[tuple[Path, str]] = set()  # (python, folder) refused by a server
        self._closed = False

    def start(
        self, python: Path, module: str, args: Sequence[str], env: Mapping[str, str], cwd: str
    ) -> WorkerProcess:
        server = self._server(python, env, cwd)
        if server is not None:
            try:
                forked = server.fork(module, args, env, cwd)
            except (OSError, ValueError) as error:  # the server died: the next start makes one
                logger.warning("fork server failed (%s): a fresh interpreter", error)
                self._drop(server)
            else:
                if isinstance(forked, ForkedProcess):
                    return forked
                logger.info("worker in %s starts as a fresh interpreter: %s", cwd, forked)
                with self._lock:
                    self._fresh.add((python, cwd))
        return subprocess.Popen(
            [str(python), "-m", module, *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills all of it
        )

    def _server(self, python: Path, env: Mapping[str, str], cwd: str) -> ForkServer | None:
        if not self._use_forkserver:
            return None
        with self._lock:
            if self._closed or (python, cwd) in self._fresh:
                return None
            for server in self._servers:
                if server.accepts(python, env, cwd):
                    return server
            try:
                server = ForkServer(python, env, cwd)
            except (OSError, RuntimeError, ValueError) as error:
                logger.warning("no fork server for %s (%s): fresh interpreters", cwd, error)
                self._fresh.add((python, cwd))
                return None
            self._servers.append(server)
            return server

    def _drop(self, server: ForkServer) -> None:
        with self._lock:
            if server in self._servers:
                self._servers.remove(server)
        server.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            servers, self._servers = self._servers, []
        for server in servers:
            server.close()
