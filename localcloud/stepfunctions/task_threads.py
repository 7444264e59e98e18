"""A Task state's evaluation runs on a reused thread, not a new one each time.

moto's interpreter (LocalStack's) evaluates every Task state on a thread of its own
(`ExecutionState._evaluate_with_timeout`: a new daemon Thread, started, waited for up to the
state's TimeoutSeconds, abandoned if it outlives them). Starting and ending an OS thread is
about 0.2 ms of CPU here (the clone, its stack, Python's thread state, the start handshake),
five times per order saga execution.

`install` gives that module a `Thread` that hands the same target to an idle worker thread,
or starts a new worker when none is idle: each evaluation still has a thread to itself, for
as long as it runs, and a timed-out one still runs on while the state fails with
States.Timeout (its worker is simply busy until then). A worker waits IDLE_SECONDS for more
work, then ends. The workers are daemon threads, as moto's are. moto's files are not changed.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

IDLE_SECONDS = 30.0
_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.execute_state"

_install_lock = threading.Lock()
_installed = False


class _Workers:
    """Daemon threads that run what they are handed, and wait a while for more."""

    def __init__(self, idle_seconds: float) -> None:
        self._idle_seconds = idle_seconds
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job, minus the jobs handed to them

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="sfn-task", daemon=True).start()

    def _work(self, job: Callable[[], None]) -> None:
        while True:
            try:
                job()
            except Exception:  # a job's own failure: its own thread would have printed it
                log.exception("Step Functions task thread failed")
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:  # a job handed over as it gave up waiting is still taken
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        self._idle -= 1  # no job can be handed to it from here on
                        return


_workers = _Workers(IDLE_SECONDS)


class ReusedThread:
    """The part of threading.Thread that moto's Task evaluation uses, run by a worker."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., Any] | None = None,
        name: str | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        self._target = target
        self._args = args
        self._kwargs = kwargs or {}
        self.name = name or "sfn-task"
        self.daemon = True if daemon is None else daemon
        self._started = False
        self._done = threading.Event()

    def start(self) -> None:
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        _workers.run(self._run)

    def _run(self) -> None:
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        finally:
            self._target = None  # as Thread.run: the target's references go with it
            self._done.set()

    def is_alive(self) -> bool:
        return self._started and not self._done.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)


def install() -> None:
    """moto's Task evaluations run on reused threads (once per process)."""
    global _installed  # noqa: PLW0603 - moto's interpreter is process-wide, so is this
    with _install_lock:
        if _installed:
            return
        module = importlib.import_module(_MODULE)
        if getattr(module, "Thread", None) is not threading.Thread:
            raise RuntimeError(f"moto changed: {_MODULE} no longer starts a threading.Thread")
        module.Thread = ReusedThread  # type: ignore[attr-defined]
        _installed = True
