"""localcloud.heap: what a full collection leaves is frozen, what a younger one leaves is not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from localcloud.heap import freeze_survivors, stop_freezing


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: tracked by the collector


@pytest.fixture
def freezing() -> Iterator[None]:
    gc.unfreeze()
    freeze_survivors()
    freeze_survivors()  # once per process, however often asked
    yield
    stop_freezing()
    gc.unfreeze()


def test_a_full_collection_freezes_what_it_leaves(freezing: None) -> None:
    # Given live objects, after a young collection
    kept = [Node() for _ in range(100)]
    gc.collect(0)
    assert gc.get_freeze_count() == 0
    # When a full collection runs
    gc.collect()
    # Then what it left is frozen (the next full one will not look at it), our objects included
    assert gc.get_freeze_count() >= len(kept)
    assert sum(1 for callback in gc.callbacks if callback.__module__ == "localcloud.heap") == 1


def test_garbage_is_still_freed_by_reference_counting(freezing: None) -> None:
    # Given a frozen object that is not in a cycle
    import weakref

    class Leaf:
        pass

    leaf = Leaf()
    gc.collect()
    alive = weakref.ref(leaf)
    # When its last reference goes
    del leaf
    # Then it is freed at once
    assert alive() is None
