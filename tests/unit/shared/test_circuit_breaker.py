"""Every transition of the circuit breaker, on a fake clock and an in-memory store."""

from __future__ import annotations

import http.client
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
    CircuitOpen,
    CircuitState,
    is_transient_failure,
)
from shop_shared.errors import DomainError, NotFound, TransientError
from tests.unit.shared.breaker_fakes import START, FakeClock, InMemoryBreakerStore

NAME = "payment-provider"
CONFIG = BreakerConfig(
    failure_threshold=3, failure_window_seconds=10, cooldown_seconds=30, cache_ttl_seconds=1
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


def open_breaker(breaker: CircuitBreaker, dependency: Dependency) -> None:
    fail(breaker, dependency, CONFIG.failure_threshold)
    assert breaker.state() is CircuitState.OPEN


# ---------------------------------------------------------------- closed


def test_a_closed_breaker_calls_through_and_writes_nothing(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency
) -> None:
    # When a healthy dependency is called
    result = breaker.call(dependency)

    # Then it answered, and a success in CLOSED changes no state
    assert result == "answer"
    assert dependency.calls == 1
    assert store.saves == 0
    assert NAME not in store.records


def test_n_failures_within_the_window_open_the_breaker(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given two failures, 4 s apart (below the threshold of 3)
    fail(breaker, dependency, 2, every=4)
    record = store.records[NAME]
    assert record.state is CircuitState.CLOSED
    assert record.failures == (START, START + 4)

    # When a third fails 4 s later: three inside the 10 s window
    clock.advance(4)
    fail(breaker, dependency, 1)

    # Then the breaker is OPEN since that failure, its failure list cleared
    assert store.records[NAME] == BreakerRecord(
        state=CircuitState.OPEN, failures=(), opened_at=START + 8, version=3
    )
    assert dependency.calls == 3


def test_failures_outside_the_window_do_not_count(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given two failures, then a pause longer than the window
    fail(breaker, dependency, 2, every=1)
    clock.advance(CONFIG.failure_window_seconds + 0.5)

    # When a third failure comes
    fail(breaker, dependency, 1)

    # Then only it counts: still CLOSED, with one failure remembered
    record = store.records[NAME]
    assert record.state is CircuitState.CLOSED
    assert record.failures == (clock.now,)
    # And two more inside the window do open it
    fail(breaker, dependency, 2, every=1)
    assert store.records[NAME].state is CircuitState.OPEN


def test_a_business_answer_is_not_a_failure(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency
) -> None:
    # Given a dependency that declines, more often than the threshold
    dependency.error = CardDeclined("declined")
    for _ in range(CONFIG.failure_threshold + 2):
        with pytest.raises(CardDeclined):
            breaker.call(dependency)

    # Then the breaker stays closed and recorded nothing
    assert breaker.state() is CircuitState.CLOSED
    assert NAME not in store.records
    assert dependency.calls == CONFIG.failure_threshold + 2


# ---------------------------------------------------------------- open


def test_an_open_breaker_fails_fast_without_calling(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given an open breaker
    open_breaker(breaker, dependency)
    calls_before = dependency.calls
    clock.advance(5)

    # When it is called before the cool-down is over
    with pytest.raises(DependencyCircuitOpen) as raised:
        breaker.call(dependency)

    # Then the dependency was not called, and the error is typed and says when to retry
    assert dependency.calls == calls_before
    error = raised.value
    assert isinstance(error, CircuitOpen)
    assert isinstance(error, TransientError)
    assert error.breaker == NAME
    assert error.retry_after_seconds == CONFIG.cooldown_seconds - 5
    assert (error.code, error.http_status) == ("CIRCUIT_OPEN", 503)
    assert store.records[NAME].state is CircuitState.OPEN


def test_an_open_breaker_seen_by_another_environment_fails_fast_there_too(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given two environments sharing the store, the first opens the breaker
    first, second = new_breaker(store, clock), new_breaker(store, clock)
    assert second.call(dependency) == "answer"  # the second has CLOSED cached
    open_breaker(first, dependency)
    calls_before = dependency.calls

    # When the second's cache has expired
    clock.advance(CONFIG.cache_ttl_seconds)
    with pytest.raises(DependencyCircuitOpen):
        second.call(dependency)

    # Then it failed fast without calling the dependency
    assert dependency.calls == calls_before


# ---------------------------------------------------------------- half-open


def test_after_the_cool_down_one_probe_goes_through_and_closes_on_success(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given an open breaker whose cool-down is over
    open_breaker(breaker, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    states_during_probe: list[CircuitState] = []
    dependency.during_call = lambda: states_during_probe.append(store.records[NAME].state)

    # When it is called
    result = breaker.call(dependency)

    # Then the call was the probe (HALF_OPEN while it ran), and its success closed the breaker
    assert result == "answer"
    assert states_during_probe == [CircuitState.HALF_OPEN]
    record = store.records[NAME]
    assert (record.state, record.failures, record.opened_at) == (CircuitState.CLOSED, (), None)
    # And calls go through again
    dependency.during_call = None
    assert breaker.call(dependency) == "answer"


def test_a_business_answer_to_the_probe_closes_the_breaker(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    dependency.error = CardDeclined("declined")

    with pytest.raises(CardDeclined):
        breaker.call(dependency)

    assert store.records[NAME].state is CircuitState.CLOSED


def test_a_failed_probe_opens_the_breaker_again_for_a_new_cool_down(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # Given an open breaker whose cool-down is over
    open_breaker(breaker, dependency)
    clock.advance(CONFIG.cooldown_seconds + 2)
    probe_time = clock.now

    # When the probe fails
    fail(breaker, dependency, 1)

    # Then the breaker is OPEN again, from the probe's failure on
    record = store.records[NAME]
    assert (record.state, record.opened_at) == (CircuitState.OPEN, probe_time)
    calls_before = dependency.calls
    clock.advance(CONFIG.cooldown_seconds - 1)
    with pytest.raises(DependencyCircuitOpen):
        breaker.call(dependency)
    assert dependency.calls == calls_before
    # And a new cool-down later, a new probe may go through
    clock.advance(1)
    assert breaker.call(dependency) == "answer"
    assert store.records[NAME].state is CircuitState.CLOSED


def test_while_one_caller_probes_another_fails_fast(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given two environments that both saw the breaker open, and the cool-down is over
    first, second = new_breaker(store, clock), new_breaker(store, clock)
    open_breaker(first, dependency)
    with pytest.raises(DependencyCircuitOpen):
        second.call(dependency)
    clock.advance(CONFIG.cooldown_seconds)
    calls_before = dependency.calls
    second_outcome: list[BaseException] = []

    def second_calls_meanwhile() -> None:
        dependency.during_call = None
        try:
            second.call(dependency)
        except CircuitOpen as error:
            second_outcome.append(error)

    dependency.during_call = second_calls_meanwhile

    # When the first probes, and the second calls while the probe is in flight
    assert first.call(dependency) == "answer"

    # Then only the probe reached the dependency; the second failed fast
    assert dependency.calls == calls_before + 1
    assert len(second_outcome) == 1
    assert isinstance(second_outcome[0], DependencyCircuitOpen)
    assert store.records[NAME].state is CircuitState.CLOSED


class RacingStore(InMemoryBreakerStore):
    """The first `parties` reads wait for each other: every caller reads OPEN before any of
    them writes, so they all race for the probe with the same expected version."""

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


def test_of_many_concurrent_callers_exactly_one_probes(clock: FakeClock) -> None:
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
            outcome = "probed"
        except DependencyCircuitOpen:
            outcome = "failed fast"
        with lock:
            outcomes.append(outcome)
            if outcomes.count("failed fast") == len(breakers) - 1:
                release.set()

    # When they all call at once
    threads = [threading.Thread(target=caller, args=(b,)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then exactly one conditional write won the probe; the other seven were refused and failed
    # fast without calling the dependency
    assert len(calls) == 1
    assert sorted(outcomes) == ["failed fast"] * 7 + ["probed"]
    assert store.rejected_saves == 7
    assert store.records[NAME].state is CircuitState.CLOSED


def test_a_probe_that_never_reports_is_replaced_after_a_cool_down(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given a probe claimed by an environment that then died (HALF_OPEN, nobody reports)
    store.records[NAME] = BreakerRecord(
        state=CircuitState.HALF_OPEN,
        opened_at=clock.now - 40,
        probe_started_at=clock.now,
        version=7,
    )
    breaker = new_breaker(store, clock)
    with pytest.raises(DependencyCircuitOpen):
        breaker.call(dependency)
    assert dependency.calls == 0

    # When a cool-down has passed since that probe started
    clock.advance(CONFIG.cooldown_seconds)

    # Then another caller probes, and closes the breaker
    assert breaker.call(dependency) == "answer"
    assert dependency.calls == 1
    assert store.records[NAME].state is CircuitState.CLOSED


def test_a_late_failure_from_before_the_opening_changes_nothing(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given an environment admitted on a cached CLOSED state, and the breaker opened meanwhile
    late, other = new_breaker(store, clock), new_breaker(store, clock)
    late.call(dependency)
    open_breaker(other, dependency)
    opened = store.records[NAME]

    # When its call fails (its cache still says CLOSED)
    fail(late, dependency, 1)

    # Then the open breaker is left as it is (the cool-down is not extended)
    assert store.records[NAME] == opened


# ---------------------------------------------------------------- the cache


def test_a_closed_breaker_reads_its_state_at_most_once_per_cache_ttl(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    # When it is called 50 times within one cache TTL
    for _ in range(50):
        breaker.call(dependency)
        clock.advance(CONFIG.cache_ttl_seconds / 100)

    # Then the state was read once, and never written
    assert (store.loads, store.saves, dependency.calls) == (1, 0, 50)
    # And once the TTL is over it is read again
    clock.advance(CONFIG.cache_ttl_seconds)
    breaker.call(dependency)
    assert store.loads == 2


def test_an_open_breaker_fails_fast_from_the_cache_without_a_read(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency, clock: FakeClock
) -> None:
    open_breaker(breaker, dependency)
    loads = store.loads

    for _ in range(20):
        with pytest.raises(DependencyCircuitOpen):
            breaker.call(dependency)

    assert store.loads == loads


def test_the_probe_is_never_claimed_on_a_cached_state(
    store: InMemoryBreakerStore, clock: FakeClock, dependency: Dependency
) -> None:
    # Given an environment with OPEN cached, and another closed the breaker meanwhile
    first, second = new_breaker(store, clock), new_breaker(store, clock)
    open_breaker(first, dependency)
    clock.advance(CONFIG.cooldown_seconds)
    second.call(dependency)  # probes, closes
    assert store.records[NAME].state is CircuitState.CLOSED
    version = store.records[NAME].version

    # When the first is called with its stale OPEN cache, cool-down over
    assert first.call(dependency) == "answer"

    # Then it read the store, saw CLOSED and just called: no probe claimed, nothing written
    assert store.records[NAME].version == version


# ---------------------------------------------------------------- the store is down


def test_when_the_state_cannot_be_read_calls_go_through(
    breaker: CircuitBreaker, store: InMemoryBreakerStore, dependency: Dependency
) -> None:
    store.unavailable = True

    assert breaker.call(dependency) == "answer"
    fail(breaker, dependency, CONFIG.failure_threshold + 1)  # failures are raised, not hidden

    assert dependency.calls == CONFIG.failure_threshold + 2


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
