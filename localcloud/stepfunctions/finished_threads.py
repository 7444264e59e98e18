"""The interpreter's finished threads let go.

moto's interpreter (LocalStack's) appends every thread it starts to
`moto.stepfunctions.parser.utils.TMP_THREADS`: an execution's worker and program, a thread per
Task state's evaluation, each Parallel branch and Map iteration. LocalStack reads that list to
stop them at shutdown; moto never reads it, so every Thread object stays for as long as the
process runs: about seven per order saga execution, each holding 15 objects the cyclic
garbage collector tracks (its Event, Condition, locks, ...), which every full collection scans
again, and the memory.

`install` gives each of moto's modules that imported the list one that keeps only the threads
still running (those finished are dropped when the next one is added). The list moto made is
emptied once, of what had finished by then. moto's files are not changed.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

# Every module of moto 5.2's interpreter that does `from ...utils import TMP_THREADS`.
_USERS = tuple(
    f"moto.stepfunctions.parser.{name}"
    for name in (
        "utils",
        "backend.execution_worker",
        "asl.component.program.program",
        "asl.component.test_state.program.test_state_program",
        "asl.component.state.exec.execute_state",
        "asl.component.state.exec.state_parallel.branch_worker",
        "asl.component.state.exec.state_map.iteration.inline_iteration_component",
        "asl.component.state.exec.state_task.service.state_task_service_callback",
    )
)

_install_lock = threading.Lock()
_installed = False


class LiveThreads(list[threading.Thread]):
    """A list of threads that drops the finished ones whenever one is added."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, thread: threading.Thread) -> None:
        with self._lock:
            self[:] = [kept for kept in self if kept.is_alive()]
            super().append(thread)


def install() -> None:
    """moto's interpreter keeps its running threads only (once per process)."""
    global _installed  # noqa: PLW0603 - moto's interpreter is process-wide, so is this
    with _install_lock:
        if _installed:
            return
        from moto.stepfunctions.parser import utils

        moto_list: Any = utils.TMP_THREADS
        live = LiveThreads()
        for name in _USERS:
            module = importlib.import_module(name)
            # (a module first imported here already finds utils' new list)
            found = getattr(module, "TMP_THREADS", None)
            if found is not moto_list and found is not live:
                raise RuntimeError(f"moto changed: {name} no longer shares TMP_THREADS")
            module.TMP_THREADS = live  # type: ignore[attr-defined]
        for thread in list(moto_list):
            if thread.is_alive():
                live.append(thread)
        moto_list.clear()
        _installed = True
