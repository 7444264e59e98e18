"""Waiting for what localcloud does in the background (pollers, Step Functions, alarms)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.1) -> T:
    """Ask `check` again until it answers something truthy or `timeout` seconds have passed;
    its last answer (falsy when time ran out: the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
