"""One ANTLR parse per state machine definition, not one per execution.

moto's interpreter (LocalStack's) lexes and parses the whole ASL definition with ANTLR's pure
Python runtime at the start of every execution (`ExecutionWorker._get_evaluation_entrypoint`):
in a burst of orders that was a quarter of localcloud's CPU. The parse tree is read-only once
built, so it is kept per definition text; the evaluation components, which executions may
hold state in, are still made afresh for each execution by moto's own Preprocessor.

That Preprocessor formats each declaration's properties into the message of an exception it
raises only when a required property is missing (`RetrierDecl.from_retrier_props` and its
kin build `f"... in props '{props}'"` eagerly), and `str(props)` renders every component of
the declaration recursively: 7% of localcloud's CPU in a burst, for text nobody reads. The
properties' repr is made to name the declarations they hold instead.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_install_lock = threading.Lock()
_installed = False


_parse_lock = threading.Lock()


def parse_tree(definition: str) -> Any:
    """The ANTLR tree of a definition (moto raises ASLParserException for a bad one). One
    thread parses it: the executions a burst starts at once wait for that tree instead of
    each parsing the same text."""
    with _parse_lock:
        return _parse(definition)


@lru_cache(maxsize=64)
def _parse(definition: str) -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _, tree = AmazonStateLanguageParser.parse(definition)
    return tree


def install() -> None:
    global _installed  # noqa: PLW0603 - moto's interpreter is process-wide, so is this
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.asl.parse.typed_props import TypedProps
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with _install_lock:
        if _installed:
            return

        def entrypoint(worker: ExecutionWorker) -> Any:
            definition = worker._evaluation_details.state_machine_details.definition
            return Preprocessor().visit(parse_tree(definition))

        ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign,assignment]
        TypedProps.__repr__ = _props_repr  # type: ignore[method-assign]
        _installed = True


def _props_repr(props: Any) -> str:
    held = ", ".join(sorted(kind.__name__ for kind in props._instance_by_type))
    return f"{type(props).__name__}({held})"
