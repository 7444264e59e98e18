"""The fork server itself: run by the Lambda runtime's interpreter, standard library only.

    <runtime python> forkserver_process.py <abstract socket name>   (environment: see below)

It imports the runtime's and the layer's libraries once (PRELOAD), then forks a Lambda
worker for each request, so a cold start pays for the function's own init only (its handler
module and what that module creates), not for importing boto3, botocore, pydantic and
Powertools again. See forkserver.py for what localcloud does with it and why that stays
faithful to Lambda.

Started with the environment of the first function that needs it (minus its code folder on
PYTHONPATH). Every environment variable the preload reads is recorded, with its value: the
handshake line on stdout names them, and localcloud forks a function here only when its own
environment has the same values for all of them.

Per request (one connection each, on the abstract Unix socket): a length-prefixed JSON
{argv, env, cwd} with the worker's output pipe attached (SCM_RIGHTS). The answer is a JSON
line {"pid": n} (or {"refused": reason}), and later, when the worker has exited,
{"exit": returncode} with returncode as subprocess reports it (negative: killed by a signal).
The server ends when its stdin closes (localcloud stopped); its workers are not its to stop:
each is a session of its own, which localcloud kills as a whole.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import runpy
import selectors
import socket
import struct
import sys
import time


def _python_path(env: dict[str, str] | os._Environ[str]) -> list[str]:
    """PYTHONPATH's entries as the interpreter's startup (site.removeduppaths) puts them on
    sys.path: absolute, each once."""
    entries = env.get("PYTHONPATH", "").split(os.pathsep)
    return list(dict.fromkeys(os.path.abspath(entry) for entry in entries if entry))


# The script's own folder (localcloud/lambda_) must not be on a worker's path; what follows
# PYTHONPATH's entries (the standard library, the runtime's site-packages) is every worker's.
sys.path.pop(0)
_BASE_PATH_TAIL = sys.path[len(_python_path(os.environ)) :]

# What every worker imports anyway, heaviest first: the SDK and, when the layer ships them,
# pydantic and Powertools. Not awslambdaric: importing its runtime client initialises the C
# client, which reads AWS_LAMBDA_RUNTIME_API (each worker's own) outside os.environ. Not
# aws_xray_sdk.core: importing it creates the global recorder from the function's environment
# (LAMBDA_TASK_ROOT, AWS_XRAY_DAEMON_ADDRESS); its heavy part (botocore's session, docs and
# waiters) is here.
PRELOAD = (
    "boto3",
    "boto3.session",
    "botocore.session",
    "botocore.client",
    "botocore.docs",
    "botocore.waiter",
    "botocore.paginate",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.typing",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.event_handler",
)
# Read outside os.environ (so not traced) by a preloaded extension: pydantic_core's Rust code.
_NATIVE_READS = ("PYDANTIC_ERRORS_INCLUDE_URL", "PYDANTIC_ERRORS_OMIT_URL")

_HEADER = struct.Struct("!I")


def _preload() -> tuple[dict[str, str | None], list[str]]:
    """Import PRELOAD (what is on the path) and record every variable the imports read."""
    environ_type = type(os.environ)
    read: set[str] = set()
    get_item, contains = environ_type.__getitem__, environ_type.__contains__

    def traced_get_item(self: object, key: str) -> str:
        read.add(key)
        return get_item(self, key)  # type: ignore[arg-type]

    def traced_contains(self: object, key: object) -> bool:
        read.add(str(key))
        return contains(self, key)  # type: ignore[arg-type]

    environ_type.__getitem__ = traced_get_item  # type: ignore[method-assign]
    environ_type.__contains__ = traced_contains  # type: ignore[method-assign]
    loaded = []
    try:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # not in this runtime or layer: the worker cannot import it either
                continue
            loaded.append(name)
    finally:
        environ_type.__getitem__ = get_item  # type: ignore[method-assign]
        environ_type.__contains__ = contains  # type: ignore[method-assign]
    read.update(_NATIVE_READS)
    return {key: os.environ.get(key) for key in sorted(read)}, loaded


def _shadowed(cwd: str) -> list[str]:
    """Top-level names in the function's folder that a preloaded module already holds."""
    try:
        entries = os.listdir(cwd)
    except OSError:
        return []
    names = {entry.split(".", 1)[0] for entry in entries}
    return sorted(name for name in names if name and name in sys.modules)


def _receive(connection: socket.socket) -> tuple[dict[str, object], int]:
    data, fds, _, _ = socket.recv_fds(connection, 65536, 1)
    if not fds:
        raise ValueError("no output pipe attached")
    while len(data) < _HEADER.size or len(data) < _HEADER.size + _HEADER.unpack_from(data)[0]:
        more = connection.recv(65536)
        if not more:
            raise ValueError("request cut short")
        data += more
    (length,) = _HEADER.unpack_from(data)
    return json.loads(data[_HEADER.size : _HEADER.size + length]), fds[0]


def _become_worker(request: dict[str, object], output_fd: int) -> None:
    """In the child: the process `python -m awslambdaric <handler>` would have been."""
    os.setsid()
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    cwd = str(request["cwd"])
    os.chdir(cwd)
    sys.path[:] = [cwd, *_python_path(env), *_BASE_PATH_TAIL]  # as `-m` in cwd builds it
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = [str(arg) for arg in argv]


def _serve(listener: socket.socket) -> tuple[dict[str, object], int] | None:
    """Fork workers until stdin closes; in a forked child, return its request."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    waiting: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, its connection)
    while True:
        for key, _ in selector.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    return None
            elif key.data == "accept":
                connection, _ = listener.accept()
                try:
                    request, output_fd = _receive(connection)
                except (OSError, ValueError) as error:
                    _answer(connection, {"refused": f"bad request: {error}"})
                    connection.close()
                    continue
                shadowed = _shadowed(str(request["cwd"]))
                if shadowed:
                    os.close(output_fd)
                    _answer(connection, {"refused": f"the function's code holds {shadowed}"})
                    connection.close()
                    continue
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    connection.close()
                    for _, other in waiting.values():
                        other.close()
                    for pidfd in waiting:
                        os.close(pidfd)
                    return request, output_fd
                os.close(output_fd)
                pidfd = os.pidfd_open(pid)
                waiting[pidfd] = (pid, connection)
                selector.register(pidfd, selectors.EVENT_READ, "exit")
                _answer(connection, {"pid": pid})
            else:
                pidfd = key.fd
                selector.unregister(pidfd)
                pid, connection = waiting.pop(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                _answer(connection, {"exit": os.waitstatus_to_exitcode(status)})
                connection.close()


def _answer(connection: socket.socket, message: dict[str, object]) -> None:
    # OSError: localcloud closed its end, nobody waits for this worker any more
    with contextlib.suppress(OSError):
        connection.sendall(json.dumps(message).encode() + b"\n")


def main() -> None:
    read, loaded = _preload()
    gc.freeze()  # what the preload made stays shared with the workers (copy-on-write)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + sys.argv[1])
    listener.listen(64)
    print(json.dumps({"environment": read, "preloaded": loaded}), flush=True)
    child = _serve(listener)
    if child is None:
        return
    request, output_fd = child
    _become_worker(request, output_fd)
    runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
