"""Reading a circuit breaker's item (`BREAKER#<name>`) in tests: its window's counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shop_shared.circuit_breaker import CALLS_PREFIX, FAILURES_PREFIX


def breaker_counts(item: Mapping[str, Any]) -> tuple[int, int]:
    """(calls, failures) counted in the item's buckets since its last change of state."""
    calls = sum(int(v) for k, v in item.items() if k.startswith(CALLS_PREFIX))
    failures = sum(int(v) for k, v in item.items() if k.startswith(FAILURES_PREFIX))
    return calls, failures
