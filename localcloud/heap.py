"""What survives a full collection is frozen: localcloud's heap grows with what it emulates.

localcloud keeps the run's state (moto's tables, stream records, queues, Step Functions
executions with their histories, metrics, logs): about 1,300 more objects the cyclic
collector tracks per order. A full collection looks at all of them while holding the GIL, so
every part of localcloud stops meanwhile: 0.3-1.7 s each, every 30-90 orders of a burst, 5-8 s
of a 200-order burst's ~50 (measured with gc.callbacks). `freeze_survivors()` moves what a
full collection leaves to the permanent generation (`gc.freeze`), as `localcloud run` already
does with what start-up made, so the next full collection looks only at what came since:
1.2-1.4 s of full collections in the same burst.

The cost: cyclic garbage among frozen objects is no longer reclaimed (reference counting
still frees everything else). localcloud's long-lived objects are state it keeps for the run
anyway; what dies later is mostly freed by reference counting.
"""

from __future__ import annotations

import gc
from typing import Any

_OLDEST = 2


def freeze_survivors() -> None:
    """From now on, freeze what each full collection leaves (once per process)."""
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)


def stop_freezing() -> None:
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == _OLDEST:
        gc.freeze()
