"""Lambda's init phase without the cyclic garbage collector.

Importing a handler module makes some 100,000 objects that live as long as the process
(modules, classes, functions, pydantic's and botocore's models). While they are made, the
cyclic collector runs every 700 allocations and, each time the heap has grown by a quarter,
traverses all of it: 25 to 45 ms of CPU of every function's 230 to 300 ms init here
(bench/cold_start.py, `--importtime` and CPU ms), none of which finds anything worth freeing.

So each handler module imports this module before anything else (ruff's isort section
"cold-start" in pyproject.toml keeps it first) and calls `init_done()` as its last statement:
the collector is off while the module is imported, then `gc.freeze()` moves every object the
init made into the permanent generation, which later collections never traverse (so warm
invocations' collections stay as small as what they allocate), and the collector is back on.
Nothing is deferred to the first invocation: the frozen objects are never traversed at all.

The price: what became cyclic garbage during the init (about 800 objects, 0.2 MB, measured for
GetCustomer) is frozen too and never freed. Only where Lambda runs the code
(AWS_LAMBDA_FUNCTION_NAME is set, as by Lambda and localcloud's workers): a test process that
imports a handler keeps its collector as it was.
"""

from __future__ import annotations

import gc
import os


class _Init:
    paused = False


if "AWS_LAMBDA_FUNCTION_NAME" in os.environ and gc.isenabled():
    gc.disable()
    _Init.paused = True


def init_done() -> None:
    """The handler module is imported: freeze what the init made and collect again."""
    if _Init.paused:
        _Init.paused = False
        gc.freeze()
        gc.enable()
