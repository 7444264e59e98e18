"""Copies of an execution's JSON data without `copy.deepcopy`'s general machinery.

moto's interpreter copies the state's data at every turn (each `$` path read of the input,
each Parameters string, the input given to a state, its result, the event history) with
`copy.deepcopy`, which for every dict, list and string looks up a copier, keeps a memo of
every object copied and a list to keep them alive. That data is JSON (what `json.loads`
gives: dicts, lists, strings, numbers, booleans, None), plus, in the history, timestamps and
enum members; deepcopy was a third of the interpreter's profiled time per saga execution.

`json_copy` copies dicts and lists (exactly those types) one by one, returns immutable atoms
as they are (as deepcopy does), and hands anything else to `copy.deepcopy`. What deepcopy
would also keep, two references to one list staying one shared copy, JSON does not have.
`install` gives it, as their `copy.deepcopy`, to the modules of moto's interpreter that copy
only such data (moto's files are not changed); the ones that copy interpreter objects (a
frame's stack, the program state) keep deepcopy.
"""

from __future__ import annotations

import copy
import datetime
import importlib
import threading
import types
from typing import Any

_ATOMS = frozenset({str, int, float, bool, type(None), bytes, datetime.datetime})
_JSON_DATA_USERS = (  # modules of moto 5.2's interpreter whose deepcopy copies JSON data
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)
_install_lock = threading.Lock()


def json_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of JSON data (anything else inside is deep-copied by `copy.deepcopy`)."""
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}
    if kind is list:
        return [json_copy(item) for item in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value, memo)


# `copy` as those modules see it: deepcopy is json_copy, the rest is the standard module's.
_COPY = types.ModuleType("copy", "copy, with deepcopy for JSON data (localcloud)")
_COPY.__dict__.update({k: v for k, v in vars(copy).items() if not k.startswith("__")})
_COPY.deepcopy = json_copy  # type: ignore[attr-defined]


def install() -> None:
    with _install_lock:
        for name in _JSON_DATA_USERS:
            module = importlib.import_module(name)
            if getattr(module, "copy", None) not in (copy, _COPY):
                raise RuntimeError(f"moto changed: {name} no longer imports copy")
            module.copy = _COPY  # type: ignore[attr-defined]
