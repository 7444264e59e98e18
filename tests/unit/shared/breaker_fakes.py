"""A fake clock and an in-memory breaker store that behaves as the DynamoDB store does: counts
are atomic additions, transitions and trial claims are compare-and-set on the version."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from shop_shared.circuit_breaker import (
    BreakerRecord,
    BreakerStore,
    BreakerStoreUnavailable,
    CircuitState,
    WindowBucket,
)

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
    """Records by breaker name (thread-safe). Counts reads and writes, so tests can see what
    the cache saves and which conditional writes lost."""

    def __init__(self) -> None:
        self.records: dict[str, BreakerRecord] = {}
        self.loads = 0
        self.counts = 0
        self.transitions = 0
        self.rejected_writes = 0
        self.unavailable = False
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.unavailable:
            raise BreakerStoreUnavailable("the table is down")

    def load(self, name: str) -> BreakerRecord:
        with self._lock:
            self._check()
            self.loads += 1
            return self.records.get(name, BreakerRecord())

    def count(
        self, name: str, bucket_ms: int, *, failed: bool, stale: Iterable[int] = ()
    ) -> BreakerRecord:
        with self._lock:
            self._check()
            self.counts += 1
            stored = self.records.get(name, BreakerRecord())
            dropped = set(stale) - {bucket_ms}
            buckets = {b.start_ms: b for b in stored.buckets if b.start_ms not in dropped}
            bucket = buckets.get(bucket_ms, WindowBucket(start_ms=bucket_ms))
            buckets[bucket_ms] = WindowBucket(
                start_ms=bucket_ms,
                calls=bucket.calls + 1,
                failures=bucket.failures + (1 if failed else 0),
            )
            counted = stored.model_copy(
                update={"buckets": tuple(buckets[s] for s in sorted(buckets))}
            )
            self.records[name] = counted
            return counted

    def transition(self, name: str, record: BreakerRecord) -> bool:
        with self._lock:
            self._check()
            stored = self.records.get(name, BreakerRecord())
            if stored.version != record.version - 1:
                self.rejected_writes += 1
                return False
            self.transitions += 1
            self.records[name] = record.model_copy(update={"buckets": ()})
            return True

    def claim_trial(self, name: str, record: BreakerRecord, limit: int) -> bool:
        with self._lock:
            self._check()
            stored = self.records.get(name, BreakerRecord())
            if (
                stored.version != record.version
                or stored.state is not CircuitState.HALF_OPEN
                or stored.trials >= limit
            ):
                self.rejected_writes += 1
                return False
            self.records[name] = stored.model_copy(update={"trials": stored.trials + 1})
            return True
