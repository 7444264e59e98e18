"""Lambda's concurrency limits, sized to this machine.

On AWS every execution environment has its own CPU, the account may run 1,000 invocations at
once, and a function with `ReservedConcurrentExecutions` runs at most that many. Past a limit
Lambda refuses the invocation before running it: HTTP 429 `TooManyRequestsException` with a
`Reason` (the callers retry: SDKs, Step Functions' Retry, the event source pollers; API
Gateway answers 500).

Here every environment shares two cores, so localcloud models the same limits at a scale the
machine can hold (`ConcurrencySettings`):

- `account_limit`: invocations in flight at once across the account (AWS: 1,000). Functions
  with reserved concurrency are carved out of it as on AWS; the others share the rest.
- `ReservedConcurrentExecutions`: honoured exactly (0 throttles every invocation).
- `concurrent_inits`: cold starts initialising at once. On AWS one sandbox's init never
  slows another's; here inits compete for the same cores, so they are started a few at a
  time and the 10 s init limit (counted from the worker's start) keeps its meaning. An
  invocation that needs a new worker while the init slots are taken waits for a slot, or
  for a worker of its function to come free, whichever is first.
- `running_limit`: invocations executing at once, the stand-in for "each sandbox has its
  own CPU". An invocation takes a running slot (first come, first served) before it takes
  a worker, so its timeout, which starts when the worker takes its event as on AWS, is
  not eaten by other sandboxes' CPU, and a worker is held only while its invocation can
  run. An invocation made from inside a running one (a function calling Invoke and
  waiting for it) does not wait: its caller's slot is idle meanwhile. No invocation waits
  longer than `run_wait_seconds` for a slot. Work already in the system goes first: an
  invocation from the edge (API Gateway: a client's request that may start new work; its
  reads start none and queue with the rest) gets a slot only when no invocation from
  inside (Step Functions tasks, event sources, schedules, Invoke) waits, and the edge
  holds at most `edge_share` of the slots, one while work from inside runs. With one
  queue, a burst of new orders queued ahead of the sagas already running, so every order
  waited behind all the others at each of its steps (POST-to-CONFIRMED grew with the
  burst); without the limits on the edge, the burst's first seconds, before the work its
  orders start reached the queue, let 80 orders in at once. This way orders in flight are
  finished first and the clients feel the back-pressure at the door, as a queue in front
  of a saturated service does. The edge's writes also enter at most `edge_rate` a second
  (10 per core) beyond a burst of `edge_burst` (2 per core) once they queue at the door, a
  token bucket as API Gateway's throttle is: the slot limits count only what runs, and a
  write returns before the work it starts is queued, so at a burst's start ~30 orders got in
  within a second. The rate must stay above what the machine completes: at 5 per core it
  was the burst's limit once DynamoDB had a process of its own (9.6-9.7 orders/s, against
  11.7-12.4 at 10 per core, same code, alternating runs on a quiet host).
- `warm_wait_seconds`: when the machine is saturated (every running slot or every init
  slot taken) and the function has a busy worker, an invocation waits up to this long for
  that worker to come free before it starts a cold one. Lambda would start a new
  environment at once (its CPU is free); here a cold start costs ~0.1-0.3 s of a shared core
  when forked by the fork server (forkserver.py; 0.5-1 s as a fresh interpreter), more than
  the wait for a warm worker usually is, so a burst is served by a few warm workers instead
  of dozens of cold starts.

The waits show in an invocation's latency (and in the runtime's stats, `wait_ms_total`),
never in its timeout. They are localcloud's departures from Lambda, made so that a burst
on two cores behaves as it would on AWS: served, later, instead of timing out. Queued
invocations count as in flight (the caller is waiting on them), so the account limit also
bounds how much may queue.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("localcloud.lambda_.concurrency")

ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
THROTTLE_MESSAGE = "Rate Exceeded."


def _cpus() -> int:
    return os.cpu_count() or 1


def default_account_limit() -> int:
    """100 in flight per core. An invocation in flight here is mostly queued for a running
    slot (the CPU) and holds no process, only a waiting thread; the workers stay few (the
    running limit bounds them). So the limit bounds how much a burst may queue before
    Lambda says no: high enough that a burst a real account (1,000) absorbs is not
    throttled here merely because two cores serve it more slowly."""
    return 100 * _cpus()


@dataclass(frozen=True)
class ConcurrencySettings:
    account_limit: int = field(default_factory=default_account_limit)
    concurrent_inits: int = field(default_factory=_cpus)
    running_limit: int = field(default_factory=lambda: 3 * _cpus())
    # of which the edge (API Gateway's writes) may hold at most: a third
    edge_share: float = 1 / 3
    run_wait_seconds: float = 60.0  # a safety net only: nested calls never wait
    warm_wait_seconds: float = 0.5
    # The edge's writes also enter at most `edge_rate` a second beyond a burst of `edge_burst`
    # (a token bucket, the way API Gateway counts its own throttle): see `_edge_token`.
    edge_rate: float = field(default_factory=lambda: 10.0 * _cpus())
    edge_burst: int = field(default_factory=lambda: 2 * _cpus())

    @property
    def edge_running_limit(self) -> int:
        return max(1, int(self.running_limit * self.edge_share))

    def __post_init__(self) -> None:
        if min(self.account_limit, self.concurrent_inits, self.running_limit) < 1:
            raise ValueError("account_limit, concurrent_inits and running_limit must be >= 1")
        if not 0 < self.edge_share <= 1:
            raise ValueError("edge_share must be in (0, 1]")
        if min(self.warm_wait_seconds, self.run_wait_seconds) < 0:
            raise ValueError("warm_wait_seconds and run_wait_seconds must be >= 0")
        if self.edge_rate <= 0 or self.edge_burst < 1:
            raise ValueError("edge_rate must be > 0 and edge_burst >= 1")


class TooManyRequestsException(Exception):
    """Lambda refused the invocation before running it (Invoke: HTTP 429)."""

    error_type = "TooManyRequestsException"
    status = 429

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(THROTTLE_MESSAGE)
        self.function = function
        self.reason = reason

    def body(self) -> dict[str, str]:
        """The Invoke API's error body (botocore's TooManyRequestsException shape)."""
        return {"Reason": self.reason, "Type": "User", "message": THROTTLE_MESSAGE}


class Concurrency:
    """Admission against the account and reserved limits, and the init slots.

    One lock for the whole runtime (`lock`, a Condition): the function pools keep their idle
    workers under it too, so an invocation can wait for "a worker of mine came free, or an
    init slot did" without missing either.
    """

    def __init__(self, settings: ConcurrencySettings, reserved: Mapping[str, int | None]) -> None:
        self.settings = settings
        self.lock = threading.Condition(threading.RLock())
        self._reserved = {name: limit for name, limit in reserved.items() if limit is not None}
        reserved_total = sum(self._reserved.values())
        self.unreserved_limit = settings.account_limit - reserved_total
        if self.unreserved_limit < 1:
            # AWS refuses PutFunctionConcurrency that leaves the unreserved pool too small;
            # the template was written for 1,000, so keep the reservations and leave the
            # other functions one slot rather than refusing to start.
            logger.warning(
                "reserved concurrency (%d) leaves nothing of the account limit (%d); the "
                "other functions share 1",
                reserved_total,
                settings.account_limit,
            )
            self.unreserved_limit = 1
        self._in_flight: dict[str, int] = {}
        self._unreserved_in_flight = 0
        self._max_in_flight = 0
        self._inits = 0
        self._running = 0  # invocations a worker is executing (handed over, not finished)
        self._max_running = 0
        # waiting for a running slot: invocations from inside first, then the edge's
        self._run_queue: deque[threading.Event] = deque()
        self._edge_queue: deque[threading.Event] = deque()
        self._run_wait_expired = 0  # ran past the running limit after run_wait_seconds
        self._edge_running = 0  # of _running: the edge's
        self._edge_tokens = float(settings.edge_burst)  # the edge's token bucket
        self._edge_refilled = time.monotonic()

    # -- admission ------------------------------------------------------------------------
    def admit(self, function: str) -> None:
        """Count one invocation in flight, or raise TooManyRequestsException."""
        with self.lock:
            in_flight = self._in_flight.get(function, 0)
            limit = self._reserved.get(function)
            if limit is not None:
                if in_flight >= limit:
                    raise TooManyRequestsException(function, RESERVED_LIMIT_EXCEEDED)
            elif self._unreserved_in_flight >= self.unreserved_limit:
                raise TooManyRequestsException(function, ACCOUNT_LIMIT_EXCEEDED)
            else:
                self._unreserved_in_flight += 1
            self._in_flight[function] = in_flight + 1
            self._max_in_flight = max(self._max_in_flight, self.in_flight)

    def leave(self, function: str) -> None:
        with self.lock:
            self._in_flight[function] -= 1
            if function not in self._reserved:
                self._unreserved_in_flight -= 1

    @property
    def in_flight(self) -> int:
        with self.lock:
            return sum(self._in_flight.values())

    # -- init slots and saturation --------------------------------------------------------
    def can_init(self) -> bool:
        return self._inits < self.settings.concurrent_inits

    def saturated(self) -> bool:
        """Every running slot or every init slot is taken (call with `lock` held)."""
        full = self._running >= self.settings.running_limit or bool(self._run_queue)
        return full or not self.can_init()

    def start_init(self) -> None:
        """Take an init slot (call with `lock` held, after `can_init`)."""
        self._inits += 1

    def end_init(self) -> None:
        with self.lock:
            self._inits -= 1
            self.lock.notify_all()

    def start_running(self, *, nested: bool, edge: bool = False) -> None:
        """Take a running slot: at once when `nested` (made from inside a running
        invocation); else wait, at most `run_wait_seconds`, in the queue of the edge (`edge`:
        a client's request that may start work) or of the work inside, first come first
        served within each. Hand it back with `end_running(edge=...)`."""
        with self.lock:
            if nested or self._may_run(edge, queued=False):
                self._take_running(edge)
                return
            ticket = threading.Event()
            queue = self._edge_queue if edge else self._run_queue
            queue.append(ticket)
            pause = self._edge_token_due() if edge else None
        deadline = time.monotonic() + self.settings.run_wait_seconds
        while True:
            left = deadline - time.monotonic()
            # the edge also waits for a token, which no end_running announces: look again
            # when the next one is due
            ticket.wait(left if pause is None else min(left, pause))
            with self.lock:
                if ticket.is_set():  # end_running handed its slot over
                    return
                if edge and queue[0] is ticket and self._may_run(True, queued=True):
                    queue.popleft()  # a token came while a slot was free
                    self._take_running(True, token=True)
                    return
                if time.monotonic() >= deadline:
                    queue.remove(ticket)
                    self._run_wait_expired += 1
                    self._take_running(edge)
                    return
                if edge:
                    pause = self._edge_token_due()

    def _may_run(self, edge: bool, *, queued: bool) -> bool:
        """A slot is free for the work inside, or for the edge (`queued`: the one at the
        head of its queue): the edge only when no work inside waits, and within its share."""
        if self._running >= self.settings.running_limit:
            return False
        if not edge:
            return queued or not self._run_queue
        edge_room = self._edge_running < self._edge_limit()
        first = not self._run_queue and (queued or not self._edge_queue)
        # the bucket paces a queue at the door (many clients at once), not a client alone
        return edge_room and first and (not queued or self._edge_token())

    def _edge_limit(self) -> int:
        """The edge's share of the slots while nothing else runs; one slot while work from
        inside runs. A write returns in a fraction of the time the work it starts takes,
        so at a burst's start the share alone let ~50 orders in before their work reached
        the queue (then 10-13 s each); one slot under load leaves the edge's concurrency
        to the idle machine (concurrent POSTs still race there)."""
        inside_running = self._running - self._edge_running
        return 1 if inside_running else self.settings.edge_running_limit

    def _edge_token(self) -> bool:
        """Whether the edge's bucket holds a token (refilled at `edge_rate` up to the burst).

        The edge's limits above count what runs; a write returns long before the work it
        starts is queued, so at a burst's start they let ~30 orders in within a second (5 s
        each then, while the clients behind them waited as long at the door). The rate
        spaces the edge's writes out until the work they start is there to hold them back;
        it stays above what the machine completes, so under load the queue for the slots,
        not the bucket, is what paces the edge. Only writes that had to queue take a token: a
        client or two whose writes find a free slot (a test, the API fuzzer) are not paced."""
        now = time.monotonic()
        refill = (now - self._edge_refilled) * self.settings.edge_rate
        self._edge_tokens = min(float(self.settings.edge_burst), self._edge_tokens + refill)
        self._edge_refilled = now
        return self._edge_tokens >= 1

    def _edge_token_due(self) -> float:
        """Seconds until the edge's bucket next holds a token (call with `lock` held); never
        less than a millisecond, and at most the time one token takes (a slot that comes free
        while the bucket is full wakes the head of the queue itself). Looking again on a fixed
        period instead let tokens pile up between looks: two writes then entered at once,
        seconds after the one before."""
        if self._edge_token():
            return 1 / self.settings.edge_rate
        return max(0.001, (1.0 - self._edge_tokens) / self.settings.edge_rate)

    def _take_running(self, edge: bool, *, token: bool = False) -> None:
        self._running += 1
        self._edge_running += edge
        self._edge_tokens -= token
        self._max_running = max(self._max_running, self._running)

    def end_running(self, *, edge: bool = False) -> None:
        with self.lock:
            self._running -= 1
            self._edge_running -= edge
            while True:
                if self._run_queue and self._may_run(False, queued=True):
                    self._take_running(False)
                    self._run_queue.popleft().set()
                elif self._edge_queue and self._may_run(True, queued=True):
                    self._take_running(True, token=True)
                    self._edge_queue.popleft().set()
                else:
                    break
            self.lock.notify_all()

    def wake(self) -> None:
        """A worker came free (call with `lock` held)."""
        self.lock.notify_all()

    def wait(self, until: float | None) -> None:
        """Wait (with `lock` held) for a wake-up, at most until the monotonic time `until`."""
        timeout = None if until is None else max(0.0, until - time.monotonic())
        self.lock.wait(timeout)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accountLimit": self.settings.account_limit,
                "unreservedLimit": self.unreserved_limit,
                "reserved": dict(self._reserved),
                "concurrentInits": self.settings.concurrent_inits,
                "warmWaitSeconds": self.settings.warm_wait_seconds,
                "inFlight": self.in_flight,
                "maxInFlight": self._max_in_flight,
                "initsInProgress": self._inits,
                "running": self._running,
                "runningLimit": self.settings.running_limit,
                "edgeRunning": self._edge_running,
                "edgeRunningLimit": self.settings.edge_running_limit,
                "edgeRate": self.settings.edge_rate,
                "edgeBurst": self.settings.edge_burst,
                "maxRunning": self._max_running,
                "runWaitsExpired": self._run_wait_expired,
                "waitingToRun": len(self._run_queue) + len(self._edge_queue),
                "edgeWaitingToRun": len(self._edge_queue),
            }
