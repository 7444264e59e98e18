"""localcloud.computed_once: an answer per argument, kept, computed by one thread however
many miss it at once; a failure is not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from localcloud.computed_once import computed_once


def test_threads_that_miss_at_once_wait_for_one_computation() -> None:
    # Given a slow function, counted, kept by computed_once
    computed: list[str] = []

    @computed_once()
    def slow(name: str) -> str:
        computed.append(name)
        time.sleep(0.2)
        return name.upper()

    barrier = threading.Barrier(8)

    def first_use(name: str) -> str:
        barrier.wait()
        return slow(name)

    # When eight threads ask for "a" at once, and then "b" is asked
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(first_use, ["a"] * 8))
    # Then "a" was computed once and every thread got its answer; "b" is its own
    assert answers == ["A"] * 8
    assert slow("b") == "B"
    assert computed == ["a", "b"]


def test_a_failure_is_not_kept_and_the_bound_holds() -> None:
    # Given a function that fails once, kept for at most one argument
    calls: list[int] = []

    @computed_once(maxsize=1)
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return n * 2

    # When it is called after a failure, then with another argument, then the first again
    with pytest.raises(ValueError, match="first call fails"):
        flaky(1)
    # Then each call after the failure computes, and the one kept answer is the last one's
    assert (flaky(1), flaky(1), flaky(2), flaky(1)) == (2, 2, 4, 2)
    assert calls == [1, 1, 2, 1]
