"""One ANTLR parse and one preprocessing per state machine definition, not one per execution.

moto's interpreter (LocalStack's) lexes and parses the whole ASL definition with ANTLR's pure
Python runtime at the start of every execution (`ExecutionWorker._get_evaluation_entrypoint`),
then turns the tree into evaluation components with its Preprocessor: in a burst of orders the
parse was a quarter of localcloud's CPU, the preprocessing 2-3% (6.7 ms for the order saga).
Both are kept per definition text; each execution gets a copy of the preprocessed `Program`,
never the kept one, so it holds its components alone, as it did when it made them itself.

The copy is made by unpickling a snapshot of the Program pickled once, right after the
preprocessing: pickle's C unpickler rebuilds the same graph copy.deepcopy does (the same
classes, each shared object once, as its memo keeps them; enums and classes by reference;
the components define no __reduce__, __getstate__ or __deepcopy__ of their own) in a tenth of
the time: 0.6 ms against 6.8 ms for the order saga on this (loaded) host, where the copy was
a sixth of the interpreter's CPU per execution. A Program that can't be pickled (a class
defined in a function, a lambda) is deep-copied as before.

Why a copy and not the kept Program itself: the components keep their run-time state in the
execution's Environment (its stack and heap), and nothing in moto's parser assigns to a
component once the Preprocessor has built it but `EvalComponent.heap_key`, a random key made
on first use (two executions sharing a component could race to make it, and lose a Retry's
attempt count). But some components hand their own JSON to the execution uncopied (a Pass
state's `Result` is pushed onto the stack as is), and proving that no path through the
interpreter (JSONPath, JSONata, Map, Parallel) ever changes such a value in place is more than
a copy costs. A copy is the same graph a fresh preprocessing makes: the Preprocessor draws
no random ids or clocks, and the kept Program is never evaluated, so no heap key is copied.

That Preprocessor formats each declaration's properties into the message of an exception it
raises only when a required property is missing (`RetrierDecl.from_retrier_props` and its
kin build `f"... in props '{props}'"` eagerly), and `str(props)` renders every component of
the declaration recursively: 7% of localcloud's CPU in a burst, for text nobody reads. The
properties' repr is made to name the declarations they hold instead.
"""

from __future__ import annotations

import copy
import logging
import pickle
import threading
from dataclasses import dataclass
from typing import Any

from localcloud.computed_once import computed_once

log = logging.getLogger(__name__)
_install_lock = threading.Lock()
_installed = False


@computed_once(maxsize=64)
def parse_tree(definition: str) -> Any:
    """The ANTLR tree of a definition (moto raises ASLParserException for a bad one). One
    thread parses it: the executions a burst starts at once wait for that tree instead of
    each parsing the same text."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _, tree = AmazonStateLanguageParser.parse(definition)
    return tree


def program(definition: str) -> Any:
    """The evaluation components of a definition, for one execution alone: a copy of the
    ones preprocessed once (moto's errors for a bad definition are raised, never kept)."""
    kept = _program(definition)
    if kept.snapshot is None:
        return copy.deepcopy(kept.program)
    return pickle.loads(kept.snapshot)  # bytes this process pickled itself


@dataclass(frozen=True)
class _Kept:
    program: Any
    snapshot: bytes | None  # the program pickled; None: it can't be (then deep copies)


@computed_once(maxsize=64)
def _program(definition: str) -> _Kept:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    program = Preprocessor().visit(parse_tree(definition))
    try:
        snapshot: bytes | None = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        log.warning("state machine program copied with deepcopy: it can't be pickled (%s)", error)
        snapshot = None
    return _Kept(program, snapshot)


def install() -> None:
    global _installed  # noqa: PLW0603 - moto's interpreter is process-wide, so is this
    from moto.stepfunctions.parser.asl.parse.typed_props import TypedProps
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with _install_lock:
        if _installed:
            return

        def entrypoint(worker: ExecutionWorker) -> Any:
            return program(worker._evaluation_details.state_machine_details.definition)

        ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign,assignment]
        TypedProps.__repr__ = _props_repr  # type: ignore[method-assign]
        _installed = True


def _props_repr(props: Any) -> str:
    held = ", ".join(sorted(kind.__name__ for kind in props._instance_by_type))
    return f"{type(props).__name__}({held})"
