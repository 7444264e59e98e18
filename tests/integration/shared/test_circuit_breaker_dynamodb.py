"""The circuit breaker's shared state in DynamoDB (moto): the item, its counters (ADD), its
conditional transitions, two environments sharing it, and the cache that keeps a closed breaker
from reading per call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shop_shared.circuit_breaker import (
    BreakerConfig,
    BreakerRecord,
    CircuitBreaker,
    CircuitOpen,
    DynamoDBBreakerStore,
    WindowBucket,
)
from shop_shared.errors import TransientError
from tests.support.template import resource
from tests.unit.shared.breaker_fakes import START, FakeClock

NAME = "payment-provider"
PK = f"BREAKER#{NAME}"
# Opens at >= 50% failed over >= 2 calls in 10 s (buckets of 1 s); one trial call.
CONFIG = BreakerConfig(
    failure_rate_threshold=0.5,
    minimum_calls=2,
    window_seconds=10,
    cooldown_seconds=5,
    half_open_calls=1,
    cache_ttl_seconds=1,
)
BUCKET = CONFIG.bucket_of(START)


class ProviderDown(TransientError):
    pass


class ProviderCircuitOpen(CircuitOpen):
    pass


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def table(make_table: Any) -> Any:
    """PaymentsTable as template.yaml declares it: the breaker lives in the caller's table."""
    return make_table("PaymentsTable")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class ReadCounter:
    """Counts the GetItem calls a store's client makes."""

    def __init__(self, table: Any) -> None:
        self.reads = 0
        table.meta.client.meta.events.register("before-call.dynamodb.GetItem", self._count)

    def _count(self, **_: Any) -> None:
        self.reads += 1


def environment(table: Any, clock: FakeClock) -> tuple[CircuitBreaker, ReadCounter]:
    """One Lambda environment: its own store (own boto3 resource) and breaker, one shared table."""
    own_table = boto3.resource("dynamodb").Table(table.name)
    breaker = CircuitBreaker(
        NAME,
        store=DynamoDBBreakerStore(table.name, own_table),
        config=CONFIG,
        open_error=ProviderCircuitOpen,
        clock=clock,
    )
    return breaker, ReadCounter(own_table)


def stored(table: Any) -> dict[str, Any] | None:
    item: dict[str, Any] | None = table.get_item(Key={"pk": PK}, ConsistentRead=True).get("Item")
    return item


def failing() -> None:
    raise ProviderDown("503")


def counters(item: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in item.items() if k.startswith(("calls_", "failures_"))}


def test_counts_add_up_and_transitions_are_written_only_on_the_version_expected(
    table: Any,
) -> None:
    first, second = DynamoDBBreakerStore(table.name), DynamoDBBreakerStore(table.name)
    # Given no item: the breaker reads as a fresh CLOSED one
    assert first.load(NAME) == BreakerRecord()

    # When two writers count into the same bucket, one of them a failure
    first.count(NAME, BUCKET, failed=False)
    counted = second.count(NAME, BUCKET, failed=True)

    # Then both counts are there (ADD: no read-modify-write), in the answer and in the table
    assert counted == BreakerRecord(buckets=(WindowBucket(start_ms=BUCKET, calls=2, failures=1),))
    item = stored(table)
    assert item is not None
    assert counters(item) == {f"calls_{BUCKET}": 2, f"failures_{BUCKET}": 1}
    assert (item["itemType"], item["name"]) == ("BREAKER", NAME)

    # When both try to open it on version 0, then both to start a trial round on version 1
    opened = counted.opened(START + 2.5)
    assert first.transition(NAME, opened) is True
    assert second.transition(NAME, counted.opened(START + 3)) is False
    trials = opened.half_opened(START + 8)
    assert second.transition(NAME, trials) is True
    assert first.transition(NAME, opened.half_opened(START + 9)) is False

    # Then the winners' writes are stored, the counters removed by the first transition
    assert first.load(NAME) == trials
    item = stored(table)
    assert item is not None
    assert counters(item) == {}
    assert {k: item[k] for k in ("state", "version", "openedAtMs", "halfOpenAtMs", "trials")} == {
        "state": "HALF_OPEN",
        "version": 2,
        "openedAtMs": round((START + 2.5) * 1000),
        "halfOpenAtMs": round((START + 8) * 1000),
        "trials": 1,
    }
    assert "expiresAt" not in item  # the table's TTL never removes a breaker
    # And a second trial is claimed only up to the limit, only in that round
    assert first.claim_trial(NAME, trials, limit=2) is True
    assert second.claim_trial(NAME, trials, limit=2) is False
    assert second.claim_trial(NAME, opened, limit=5) is False  # another version
    assert stored(table)["trials"] == 2  # type: ignore[index]
    # And it is the only item: nothing else (no outbox event) was written
    assert [i["pk"] for i in table.scan()["Items"]] == [PK]


def test_a_count_drops_the_stale_buckets_it_is_told_of(table: Any) -> None:
    store = DynamoDBBreakerStore(table.name)
    store.count(NAME, BUCKET, failed=True)
    later = BUCKET + 11 * CONFIG.bucket_ms

    record = store.count(NAME, later, failed=False, stale=[BUCKET])

    assert record.buckets == (WindowBucket(start_ms=later, calls=1, failures=0),)
    item = stored(table)
    assert item is not None
    assert counters(item) == {f"calls_{later}": 1}


def test_two_environments_share_the_breaker(table: Any, clock: FakeClock) -> None:
    first, _ = environment(table, clock)
    second, second_reads = environment(table, clock)
    calls: list[str] = []

    def provider() -> str:
        calls.append("called")
        return "charged"

    # Given the second environment has seen the breaker closed (one call, counted)
    assert second.call(provider) == "charged"

    # When the first sees a transient failure within the window (1 of 2 calls: 50%)
    with pytest.raises(ProviderDown):
        first.call(failing)
    clock.advance(0.2)

    # Then the table says OPEN, for everybody, and counts afresh
    item = stored(table)
    assert item is not None
    assert (item["state"], item["openedAtMs"], item["version"]) == (
        "OPEN",
        round(START * 1000),
        1,
    )
    assert counters(item) == {}
    # And the second, once its cache is older than the TTL, fails fast without calling
    clock.advance(CONFIG.cache_ttl_seconds)
    reads = second_reads.reads
    with pytest.raises(ProviderCircuitOpen) as raised:
        second.call(provider)
    assert calls == ["called"]
    assert second_reads.reads == reads + 1
    assert raised.value.retry_after_seconds == pytest.approx(
        CONFIG.cooldown_seconds - CONFIG.cache_ttl_seconds - 0.2
    )

    # When the cool-down is over: one trial, and a success closes it for both
    clock.advance(CONFIG.cooldown_seconds)
    during: list[str] = []

    def trial() -> str:
        during.append(str((stored(table) or {})["state"]))
        with pytest.raises(ProviderCircuitOpen):  # the first, meanwhile, may not try too
            first.call(provider)
        return provider()

    assert second.call(trial) == "charged"
    assert during == ["HALF_OPEN"]
    assert calls == ["called", "called"]
    item = stored(table)
    assert item is not None
    assert (item["state"], item["version"], item["trials"]) == ("CLOSED", 3, 0)
    assert "openedAtMs" not in item
    assert "halfOpenAtMs" not in item
    clock.advance(CONFIG.cache_ttl_seconds)
    assert first.call(provider) == "charged"
    assert counters(stored(table) or {}) == {f"calls_{CONFIG.bucket_of(clock.now)}": 1}


def test_a_closed_breaker_reads_the_table_once_per_cache_ttl(table: Any, clock: FakeClock) -> None:
    breaker, reads = environment(table, clock)

    # When it guards 30 calls within one TTL
    for _ in range(30):
        assert breaker.call(lambda: "ok") == "ok"
        clock.advance(CONFIG.cache_ttl_seconds / 40)

    # Then one GetItem was made, and every call was counted (each count answers the state)
    assert reads.reads == 1
    assert counters(stored(table) or {}) == {f"calls_{BUCKET}": 30}
    # And after a TTL without calls it reads again
    clock.advance(CONFIG.cache_ttl_seconds)
    breaker.call(lambda: "ok")
    assert reads.reads == 2


def test_a_failed_trial_reopens_in_the_table(table: Any, clock: FakeClock) -> None:
    breaker, _ = environment(table, clock)
    for _ in range(CONFIG.minimum_calls):
        with pytest.raises(ProviderDown):
            breaker.call(failing)
    clock.advance(CONFIG.cooldown_seconds)

    with pytest.raises(ProviderDown):
        breaker.call(failing)

    item = stored(table)
    assert item is not None
    assert (item["state"], item["openedAtMs"]) == ("OPEN", round(clock.now * 1000))
    assert "halfOpenAtMs" not in item
    assert item["version"] == 3  # opened, half-open, re-opened


def test_the_breaker_works_in_a_table_with_a_sort_key(make_table: Any, clock: FakeClock) -> None:
    orders = make_table("OrdersTable")
    breaker = CircuitBreaker(
        "shipping",
        store=DynamoDBBreakerStore(orders.name, sort_key={"sk": "BREAKER"}),
        config=CONFIG,
        clock=clock,
    )

    for _ in range(CONFIG.minimum_calls):
        with pytest.raises(ProviderDown):
            breaker.call(failing)

    (item,) = orders.scan()["Items"]
    assert (item["pk"], item["sk"], item["state"]) == ("BREAKER#shipping", "BREAKER", "OPEN")


def test_without_its_table_the_breaker_lets_calls_through(clock: FakeClock, aws: None) -> None:
    breaker = CircuitBreaker(
        NAME, store=DynamoDBBreakerStore("NoSuchTable"), config=CONFIG, clock=clock
    )

    assert breaker.call(lambda: "ok") == "ok"
    for _ in range(CONFIG.minimum_calls + 1):
        with pytest.raises(ProviderDown):
            breaker.call(failing)


def test_the_outbox_relay_filter_never_matches_a_breaker_item(table: Any, clock: FakeClock) -> None:
    breaker, _ = environment(table, clock)
    for _ in range(CONFIG.minimum_calls):
        with pytest.raises(ProviderDown):
            breaker.call(failing)
    item = stored(table)
    assert item is not None

    pattern = json.loads(
        resource("PaymentsEventRelayFunctionOutbox")["Properties"]["FilterCriteria"]["Filters"][0][
            "Pattern"
        ]
    )
    assert item["itemType"] not in pattern["dynamodb"]["NewImage"]["itemType"]["S"]
