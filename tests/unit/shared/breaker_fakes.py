"""A fake clock and an in-memory breaker store with the DynamoDB store's compare-and-set."""

from __future__ import annotations

import threading

from shop_shared.circuit_breaker import BreakerRecord, BreakerStore, BreakerStoreUnavailable

START = 1_795_615_800.0  # 2026-11-25 14:10:00 UTC


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryBreakerStore(BreakerStore):
    """Records by breaker name; `save` succeeds only on the version it expects (thread-safe).
    Counts reads and writes, so tests can see what the cache saves."""

    def __init__(self) -> None:
        self.records: dict[str, BreakerRecord] = {}
        self.loads = 0
        self.saves = 0
        self.rejected_saves = 0
        self.unavailable = False
        self._lock = threading.Lock()

    def load(self, name: str) -> BreakerRecord:
        with self._lock:
            if self.unavailable:
                raise BreakerStoreUnavailable("the table is down")
            self.loads += 1
            return self.records.get(name, BreakerRecord())

    def save(self, name: str, record: BreakerRecord) -> bool:
        with self._lock:
            if self.unavailable:
                raise BreakerStoreUnavailable("the table is down")
            stored = self.records.get(name, BreakerRecord())
            if stored.version != record.version - 1:
                self.rejected_saves += 1
                return False
            self.saves += 1
            self.records[name] = record
            return True
