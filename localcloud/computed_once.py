"""A function's answer per argument, kept, and computed by one thread.

`functools.cache` and `lru_cache` let every thread that misses compute the answer. For what
localcloud keeps (a service's botocore model, a REST service's routes, a state machine's
parse tree and program), dozens of threads miss at once when a burst of orders starts, and
each paid the same load: Lambda's model alone meant ~22,000 listdir calls in one burst.
`computed_once` keeps answers as `lru_cache` does and lets one thread compute a miss while
the others wait for it (a failure is not kept: the next call computes again).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ComputedOnce(Generic[K, V]):
    """`function` behind an `lru_cache(maxsize)` that one thread at a time may call."""

    def __init__(self, function: Callable[[K], V], maxsize: int | None = None) -> None:
        self._cached = functools.lru_cache(maxsize=maxsize)(function)
        self._lock = threading.Lock()
        functools.update_wrapper(self, function)

    def __call__(self, argument: K) -> V:
        with self._lock:
            return self._cached(argument)

    def cache_clear(self) -> None:
        self._cached.cache_clear()


def computed_once(
    maxsize: int | None = None,
) -> Callable[[Callable[[K], V]], ComputedOnce[K, V]]:
    """Decorate a one-argument function with `ComputedOnce`."""

    def decorate(function: Callable[[K], V]) -> ComputedOnce[K, V]:
        return ComputedOnce(function, maxsize)

    return decorate
