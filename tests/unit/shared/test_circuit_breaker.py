"""Every transition of the rate-based circuit breaker, on a fake clock and an in-memory store
that counts atomically and writes transitions on a version, as the DynamoDB store does."""

from __future__ import annotations

import contextlib
import http.client
import random
import threading
import urllib.error
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from shop_shared.circuit_breaker import (
    BreakerConfig,
    BreakerRecord,
    CircuitBreaker,
    CircuitBreakerSettings,
    CircuitOpen,
    CircuitState,
    WindowBucket,
    is_transient_failure,
)
from shop_shared.errors import DomainError, NotFound, TransientError
from tests.unit.shared.breaker_fakes import START, FakeClock, InMemoryBreakerStore

NAME = "payment-provider"
# Opens at >= 50% failed over >= 4 calls within 10 s (buckets of 1 s); 2 trial calls.
CONFIG = BreakerConfig(
    failure_rate_threshold=0.5,
    minimum_calls=4,
    window_seconds=10,
    cooldown_seconds=30,
    half_open_calls=2,
    cache_ttl_seconds=1,
)


class DependencyDown(TransientError):
    """What a client raises for a timeout or a 503."""


class CardDeclined(DomainError):
    """A business answer of a working dependency."""


class DependencyCircuitOpen(CircuitOpen):
    """The typed error a service raises while its dependency's breaker is open."""


class Dependency:
    """Counts calls; fails with `error` when one is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None
        self.during_call: Callable[[], None] | None = None

    def __call__(self) -> str:
        self.calls += 1
        if self.during_call is not None:
            self.during_call()
        if self.error is not None:
            raise self.error
        return "answer"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryBreakerStore:
    return InMemoryBreakerStore()


@pytest.fixture
def dependency() -> Dependency:
    return Dependency()


def new_breaker(
    store: InMemoryBreakerStore, clock: FakeClock, config: BreakerConfig = CONFIG
) -> CircuitBreaker:
    return CircuitBreaker(
        NAME, store=store, config=config, open_error=DependencyCircuitOpen, clock=clock
    )


@pytest.fixture
def breaker(store: InMemoryBreakerStore, clock: FakeClock) -> CircuitBreaker:
    return new_breaker(store, clock)


def fail(breaker: CircuitBreaker, dependency: Dependency, times: int, every: float = 0) -> None:
    """`times` transient failures, `every` seconds apart; each raises the dependency's error."""
    dependency.error = DependencyDown("503 from the dependency")
    clock: FakeClock = breaker._clock  # type: ignore[assignment]
    for index in range(times):
        if index:
            clock.advance(every)
        with pytest.raises(DependencyDown):
            breaker.call(dependency)
    dependency.error = None


def succeed(breaker: CircuitBreaker, dependency: Dependency, times: int) -> None:
    for _ in range(times):
        assert breaker.call(dependency) == "answer"


def open_breaker(breaker: CircuitBreaker, dependency: Dependency) -> None:
    fail(breaker, dependency, CONFIG.minimum_calls)
    assert breaker.state() is CircuitState.OPEN


def window(store: InMemoryBreakerStore, now: float) -> tuple[int, int]:
    return store.records[NAME].window(now, CONFIG)


# ---------------------------------------------------------------- closed: counting


def test_a_closed_breaker_calls_through_and_counts_the_call(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency
) -> None:
    # When a healthy dependency is called
    result = breaker.call(dependency)

    # Then it answered, and the call is counted in the current bucket; no state changed
    assert result == "answer"
    assert dependency.calls == 1
    assert store.records[NAME] == BreakerRecord(
        buckets=(WindowBucket(start_ms=round(START * 1000), calls=1, failures=0),)
    )
    assert store.transitions == 0


def test_failures_below_the_minimum_number_of_calls_do_not_open_it(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # When three calls fail in a row (all of them, but fewer than the minimum of 4)
    fail(breaker, dependency, CONFIG.minimum_calls - 1, every=2)

    # Then it stays closed with the three failures counted
    record = store.records[NAME]
    assert (record.state, record.version) == (CircuitState.CLOSED, 0)
    assert window(store, clock.now) == (3, 3)


def test_the_failure_rate_at_the_threshold_over_the_minimum_calls_opens_it(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given two successes and one failure (3 calls: below the minimum)
    succeed(breaker, dependency, 2)
    fail(breaker, dependency, 1)
    assert breaker.state() is CircuitState.CLOSED

    # When the fourth call fails: 2 of 4 failed, 50%, at the threshold
    clock.advance(1.5)
    fail(breaker, dependency, 1)

    # Then it is open since that failure, its window emptied for the next state
    assert store.records[NAME] == BreakerRecord(
        state=CircuitState.OPEN, opened_at=clock.now, version=1
    )


def test_a_failure_rate_below_the_threshold_does_not_open_it(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # When the last 3 of every 7 calls fail (43%, below 50%), 70 calls within the window
    for index in range(70):
        dependency.error = DependencyDown("503") if index % 7 >= 4 else None
        with contextlib.suppress(DependencyDown):
            breaker.call(dependency)
        clock.advance(0.1)

    # Then every call reached the dependency and the breaker is still closed
    assert dependency.calls == 70
    record = store.records[NAME]
    assert (record.state, record.version) == (CircuitState.CLOSED, 0)
    assert window(store, clock.now - 0.1) == (70, 30)


def test_a_low_failure_rate_at_high_volume_never_opens_it_but_an_outage_does(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given 3,000 calls over 5 minutes (10 per second), 10% of them failing at random, so the
    # window always holds far more than 5 failures (a count-based breaker's 5 in 60 s)
    rng = random.Random(9)
    for _ in range(3000):
        dependency.error = DependencyDown("503") if rng.random() < 0.10 else None
        with contextlib.suppress(DependencyDown):
            breaker.call(dependency)
        clock.advance(0.1)
    assert dependency.calls == 3000
    record = store.records[NAME]
    assert (record.state, record.version) == (CircuitState.CLOSED, 0)
    calls, failures = window(store, clock.now)
    assert calls >= 90  # a full window
    assert failures >= 5  # with many failures in it

    # When the dependency goes down entirely, at the same volume
    dependency.error = DependencyDown("503")
    failed_calls = 0
    while breaker.state() is CircuitState.CLOSED and failed_calls < 200:
        with pytest.raises(DependencyDown):
            breaker.call(dependency)
        failed_calls += 1
        clock.advance(0.1)

    # Then it opens once the window's failures reach half its calls: within a few seconds
    assert store.records[NAME].state is CircuitState.OPEN
    assert store.records[NAME].version == 1
    assert failed_calls <= 100  # at most one window's worth of calls
    with pytest.raises(DependencyCircuitOpen):
        breaker.call(dependency)


def test_calls_older_than_the_window_do_not_count_and_their_buckets_are_dropped(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given three failures
    fail(breaker, dependency, 3)

    # When, a whole window later, one more call fails
    clock.advance(CONFIG.window_seconds + 0.5)
    fail(breaker, dependency, 1)

    # Then only that failure is in the window: still closed, the old bucket removed
    record = store.records[NAME]
    assert record.state is CircuitState.CLOSED
    assert record.buckets == (
        WindowBucket(start_ms=CONFIG.bucket_of(clock.now), calls=1, failures=1),
    )


def test_a_business_answer_is_a_call_but_not_a_failure(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    dependency.error = CardDeclined("declined")

    for _ in range(CONFIG.minimum_calls + 2):
        with pytest.raises(CardDeclined):
            breaker.call(dependency)

    assert dependency.calls == CONFIG.minimum_calls + 2
    assert breaker.state() is CircuitState.CLOSED
    assert window(store, clock.now) == (CONFIG.minimum_calls + 2, 0)


# ---------------------------------------------------------------- open


def test_an_open_breaker_fails_fast_without_calling(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    calls_before = dependency.calls
    clock.advance(10)

    with pytest.raises(DependencyCircuitOpen) as raised:
        breaker.call(dependency)

    assert dependency.calls == calls_before
    assert raised.value.breaker == NAME
    assert raised.value.retry_after_seconds == pytest.approx(CONFIG.cooldown_seconds - 10)
    assert raised.value.code == "CIRCUIT_OPEN"
    assert raised.value.http_status == 503
    assert store.records[NAME].buckets == ()  # a refused call is not counted


def test_an_open_breaker_seen_by_another_environment_fails_fast_there_too(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given environment A opened it
    a, b = new_breaker(store, clock), new_breaker(store, clock)
    open_breaker(a, dependency)
    calls_before = dependency.calls

    # When environment B (which never saw a failure) calls
    with pytest.raises(DependencyCircuitOpen):
        b.call(dependency)

    # Then B read the shared state and failed fast too
    assert dependency.calls == calls_before


# ---------------------------------------------------------------- half-open


def test_after_the_cool_down_trial_calls_go_through_and_a_success_closes_it(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    opened = store.records[NAME]
    clock.advance(CONFIG.cooldown_seconds)

    # When a caller calls after the cool-down
    assert breaker.call(dependency) == "answer"

    # Then it went HALF_OPEN (version 2) for its trial, which closed it (version 3), counting
    # afresh
    assert store.records[NAME] == BreakerRecord(version=opened.version + 2)
    succeed(breaker, dependency, 1)
    assert window(store, clock.now) == (1, 0)


def test_a_business_answer_to_a_trial_closes_the_breaker(
    breaker: CircuitBreaker, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    dependency.error = CardDeclined("declined")

    with pytest.raises(CardDeclined):
        breaker.call(dependency)

    assert breaker.state() is CircuitState.CLOSED


def test_a_failed_trial_opens_the_breaker_again_for_a_new_cool_down(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    clock.advance(CONFIG.cooldown_seconds + 1)

    # When the trial fails
    fail(breaker, dependency, 1)

    # Then it is open again since the trial
    assert store.records[NAME] == BreakerRecord(
        state=CircuitState.OPEN, opened_at=clock.now, version=3
    )
    calls_before = dependency.calls
    clock.advance(CONFIG.cooldown_seconds - 1)
    with pytest.raises(DependencyCircuitOpen):
        breaker.call(dependency)
    assert dependency.calls == calls_before


def test_only_the_allowed_number_of_trial_calls_go_through(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given three environments, the breaker open and its cool-down over
    first, second, third = (new_breaker(store, clock) for _ in range(3))
    open_breaker(first, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    calls_before = dependency.calls
    outcomes: list[str] = []
    callers = [second, third]

    def the_next_calls_meanwhile() -> None:
        # while this trial is in flight, the next environment calls (and so on)
        if not callers:
            return
        caller = callers.pop(0)
        try:
            caller.call(dependency)
            outcomes.append("trial")
        except DependencyCircuitOpen:
            outcomes.append("failed fast")

    # When the first trial is in flight, the second calls; while that is in flight, the third
    dependency.during_call = the_next_calls_meanwhile
    assert first.call(dependency) == "answer"

    # Then two trials (half_open_calls) reached the dependency, the third failed fast, and the
    # first answer closed it
    assert outcomes == ["failed fast", "trial"]  # the third's (it ended first), the second's
    assert dependency.calls == calls_before + CONFIG.half_open_calls
    assert store.records[NAME].state is CircuitState.CLOSED


class RacingStore(InMemoryBreakerStore):
    """The first `parties` reads wait for each other: every caller reads OPEN before any of
    them writes, so they all race to start the half-open round on the same version."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties)
        self._first_reads = parties
        self._counting = threading.Lock()

    def load(self, name: str) -> BreakerRecord:
        record = super().load(name)
        with self._counting:
            racing = self._first_reads > 0
            self._first_reads -= 1
        if racing:
            self._barrier.wait(timeout=5)
        return record


def test_of_many_concurrent_callers_exactly_the_allowed_trials_go_through(
    clock: FakeClock,
) -> None:
    # Given eight environments (threads) that all read the breaker OPEN, the cool-down over
    store = RacingStore(parties=8)
    breakers = [new_breaker(store, clock) for _ in range(8)]
    store.records[NAME] = BreakerRecord(state=CircuitState.OPEN, opened_at=clock.now, version=5)
    clock.advance(CONFIG.cooldown_seconds)
    release = threading.Event()
    calls: list[int] = []
    outcomes: list[str] = []
    lock = threading.Lock()

    def slow_dependency() -> str:
        with lock:
            calls.append(1)
        release.wait(timeout=5)  # stays in flight until every other caller has decided
        return "answer"

    def caller(breaker: CircuitBreaker) -> None:
        try:
            breaker.call(slow_dependency)
            outcome = "trial"
        except DependencyCircuitOpen:
            outcome = "failed fast"
        with lock:
            outcomes.append(outcome)
            if outcomes.count("failed fast") == len(breakers) - CONFIG.half_open_calls:
                release.set()

    # When they all call at once
    threads = [threading.Thread(target=caller, args=(b,)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then exactly one conditional write started the round and one more claimed the second
    # trial; the other six failed fast without calling the dependency
    assert len(calls) == CONFIG.half_open_calls
    assert sorted(outcomes) == ["failed fast"] * 6 + ["trial"] * 2
    # And the first trial to answer closed it (the second one's close lost, and was counted)
    record = store.records[NAME]
    assert (record.state, record.version) == (CircuitState.CLOSED, 7)
    assert record.window(clock.now, CONFIG) == (1, 0)


def test_trials_that_never_report_are_replaced_after_a_cool_down(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given a half-open round whose trials were all claimed by environments that then died
    store.records[NAME] = BreakerRecord(
        state=CircuitState.HALF_OPEN,
        opened_at=clock.now - 40,
        half_open_at=clock.now,
        trials=CONFIG.half_open_calls,
        version=7,
    )
    breaker = new_breaker(store, clock)
    with pytest.raises(DependencyCircuitOpen):
        breaker.call(dependency)
    assert dependency.calls == 0

    # When a cool-down has passed since that round started
    clock.advance(CONFIG.cooldown_seconds)

    # Then another caller starts a new round, and its trial closes the breaker
    assert breaker.call(dependency) == "answer"
    assert dependency.calls == 1
    assert store.records[NAME] == BreakerRecord(version=9)


def test_a_late_failure_from_before_the_opening_does_not_change_the_state(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given an environment admitted on a cached CLOSED state, and the breaker opened meanwhile
    late, other = new_breaker(store, clock), new_breaker(store, clock)
    late.call(dependency)
    fail(other, dependency, 3)  # 3 of 4 calls failed
    assert other.state() is CircuitState.OPEN
    opened = store.records[NAME]

    # When its call fails (its cache still says CLOSED)
    fail(late, dependency, 1)

    # Then it is counted, but the open breaker is left as it is (the cool-down not extended)
    record = store.records[NAME]
    assert (record.state, record.opened_at, record.version) == (
        CircuitState.OPEN,
        opened.opened_at,
        opened.version,
    )


# ---------------------------------------------------------------- concurrency


def test_concurrent_environments_lose_no_count(clock: FakeClock) -> None:
    # Given eight environments (threads) sharing one breaker, each making 100 calls of which
    # every tenth fails (10%: below the threshold)
    store = InMemoryBreakerStore()
    breakers = [new_breaker(store, clock) for _ in range(8)]
    start = threading.Barrier(len(breakers))

    def environment(breaker: CircuitBreaker) -> None:
        start.wait(timeout=5)
        for index in range(100):

            def dependency(failing: bool = index % 10 == 0) -> str:
                if failing:
                    raise DependencyDown("503")
                return "answer"

            with contextlib.suppress(DependencyDown):
                breaker.call(dependency)

    # When they all call at once, within one bucket
    threads = [threading.Thread(target=environment, args=(b,)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then every call and every failure is in the shared counters, and it is still closed
    record = store.records[NAME]
    assert record.state is CircuitState.CLOSED
    assert record.buckets == (
        WindowBucket(start_ms=CONFIG.bucket_of(clock.now), calls=800, failures=80),
    )
    assert store.counts == 800


def test_concurrent_failures_open_it_exactly_once(clock: FakeClock) -> None:
    # Given eight environments whose calls all fail at once
    store = InMemoryBreakerStore()
    breakers = [new_breaker(store, clock) for _ in range(8)]
    start = threading.Barrier(len(breakers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def environment(breaker: CircuitBreaker) -> None:
        start.wait(timeout=5)
        for _ in range(5):
            try:
                breaker.call(lambda: (_ for _ in ()).throw(DependencyDown("503")))
                outcome = "answer"
            except DependencyDown:
                outcome = "failed"
            except DependencyCircuitOpen:
                outcome = "failed fast"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=environment, args=(b,)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then one transition opened it (version 1, whoever won), and the calls after it failed fast
    record = store.records[NAME]
    assert (record.state, record.version, record.opened_at) == (
        CircuitState.OPEN,
        1,
        clock.now,
    )
    assert store.transitions == 1
    assert outcomes.count("failed") >= CONFIG.minimum_calls
    assert "failed fast" in outcomes
    assert len(outcomes) == 40


# ---------------------------------------------------------------- the cache


def test_a_closed_breaker_reads_its_state_at_most_once_per_cache_ttl(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # When it is called 50 times within one cache TTL
    for _ in range(50):
        breaker.call(dependency)
        clock.advance(CONFIG.cache_ttl_seconds / 100)

    # Then the state was read once (each count's answer refreshes the cache), counted 50 times
    assert (store.loads, store.counts, dependency.calls) == (1, 50, 50)
    # And once the TTL is over without a call, it is read again
    clock.advance(CONFIG.cache_ttl_seconds)
    breaker.call(dependency)
    assert store.loads == 2


def test_an_open_breaker_fails_fast_from_the_cache_without_a_read(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    loads, counts = store.loads, store.counts

    for _ in range(20):
        with pytest.raises(DependencyCircuitOpen):
            breaker.call(dependency)

    assert (store.loads, store.counts) == (loads, counts)


def test_a_trial_is_never_claimed_on_a_cached_state(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given an environment with OPEN cached, and another closed the breaker meanwhile
    first, second = new_breaker(store, clock), new_breaker(store, clock)
    open_breaker(first, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    second.call(dependency)  # a trial, closes
    assert store.records[NAME].state is CircuitState.CLOSED
    version = store.records[NAME].version

    # When the first is called with its stale OPEN cache, cool-down over
    assert first.call(dependency) == "answer"

    # Then it read the store, saw CLOSED and just called: no round started, the call counted
    assert store.records[NAME].version == version
    assert window(store, clock.now) == (1, 0)


# ---------------------------------------------------------------- the store is down


def test_when_the_state_cannot_be_read_or_counted_calls_go_through(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency
) -> None:
    store.unavailable = True

    assert breaker.call(dependency) == "answer"
    fail(breaker, dependency, CONFIG.minimum_calls + 1)  # failures are raised, not hidden

    assert dependency.calls == CONFIG.minimum_calls + 2
    assert NAME not in store.records


# ---------------------------------------------------------------- settings


def test_the_settings_give_the_breaker_its_config() -> None:
    settings = CircuitBreakerSettings.model_validate(
        {
            "CIRCUIT_BREAKER_FAILURE_RATE_PERCENT": "50",
            "CIRCUIT_BREAKER_MINIMUM_CALLS": "20",
            "CIRCUIT_BREAKER_WINDOW_SECONDS": "60",
            "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "30",
            "CIRCUIT_BREAKER_HALF_OPEN_CALLS": "3",
            "CIRCUIT_BREAKER_CACHE_TTL_SECONDS": "1",
        }
    )

    config = settings.breaker_config()

    assert (config.failure_rate_threshold, config.minimum_calls, config.window_seconds) == (
        0.5,
        20,
        60,
    )
    assert (config.cooldown_seconds, config.half_open_calls, config.bucket_ms) == (30, 3, 6000)


def test_a_failure_rate_above_100_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="CIRCUIT_BREAKER_FAILURE_RATE_PERCENT"):
        CircuitBreakerSettings.model_validate(
            {
                "CIRCUIT_BREAKER_FAILURE_RATE_PERCENT": "150",
                "CIRCUIT_BREAKER_MINIMUM_CALLS": "20",
                "CIRCUIT_BREAKER_WINDOW_SECONDS": "60",
                "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "30",
                "CIRCUIT_BREAKER_HALF_OPEN_CALLS": "3",
                "CIRCUIT_BREAKER_CACHE_TTL_SECONDS": "1",
            }
        )


# ---------------------------------------------------------------- what counts as a failure


def _http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://x.test", status, "status", Message(), None)


def _client_error(status: int, code: str) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Invoke")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TimeoutError("timed out"), True),
        (ConnectionRefusedError("refused"), True),
        (DependencyDown("503"), True),
        (_http_error(503), True),
        (_http_error(500), True),
        (_http_error(429), True),
        (_http_error(404), False),
        (_http_error(402), False),
        (urllib.error.URLError("name resolution failed"), True),
        (http.client.RemoteDisconnected("closed"), True),
        (EndpointConnectionError(endpoint_url="https://lambda.test"), True),
        (ReadTimeoutError(endpoint_url="https://lambda.test"), True),
        (_client_error(500, "ServiceException"), True),
        (_client_error(429, "TooManyRequestsException"), True),
        (_client_error(400, "ThrottlingException"), True),
        (_client_error(404, "ResourceNotFoundException"), False),
        (_client_error(400, "ValidationException"), False),
        (CardDeclined("declined"), False),
        (NotFound("no such thing"), False),
        (ValueError("a bug"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_only_transient_failures_count(error: BaseException, transient: bool) -> None:
    assert is_transient_failure(error) is transient
