"""The circuit breaker's shared state in DynamoDB (moto): the item, its conditional writes, two
environments sharing it, and the cache that keeps a closed breaker from reading per call."""

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
    CircuitState,
    DynamoDBBreakerStore,
)
from shop_shared.errors import TransientError
from tests.support.template import resource
from tests.unit.shared.breaker_fakes import START, FakeClock

NAME = "payment-provider"
PK = f"BREAKER#{NAME}"
CONFIG = BreakerConfig(
    failure_threshold=2, failure_window_seconds=10, cooldown_seconds=5, cache_ttl_seconds=1
)


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


def test_the_store_writes_only_on_the_version_it_expects(table: Any) -> None:
    store = DynamoDBBreakerStore(table.name)
    # Given no item: the breaker reads as a fresh CLOSED one
    assert store.load(NAME) == BreakerRecord()

    # When two writers both try to create version 1, then both try version 2 on it
    first = BreakerRecord(failures=(START,), version=1)
    assert store.save(NAME, first) is True
    assert store.save(NAME, BreakerRecord(failures=(START + 1,), version=1)) is False
    opened = BreakerRecord(state=CircuitState.OPEN, opened_at=START + 2.5, version=2)
    assert store.save(NAME, opened) is True
    assert store.save(NAME, BreakerRecord(failures=(START + 3,), version=2)) is False

    # Then the winners' writes are what is stored, read back exactly
    assert store.load(NAME) == opened
    item = stored(table)
    assert item is not None
    assert {k: item[k] for k in ("pk", "itemType", "name", "state", "version", "openedAtMs")} == {
        "pk": PK,
        "itemType": "BREAKER",
        "name": NAME,
        "state": "OPEN",
        "version": 2,
        "openedAtMs": round((START + 2.5) * 1000),
    }
    assert "expiresAt" not in item  # the table's TTL never removes a breaker
    # And it is the only item: nothing else (no outbox event) was written
    assert [i["pk"] for i in table.scan()["Items"]] == [PK]


def test_two_environments_share_the_breaker(table: Any, clock: FakeClock) -> None:
    first, _ = environment(table, clock)
    second, second_reads = environment(table, clock)
    calls: list[str] = []

    def provider() -> str:
        calls.append("called")
        return "charged"

    # Given the second environment has seen the breaker closed
    assert second.call(provider) == "charged"

    # When the first sees two transient failures within the window
    for _ in range(CONFIG.failure_threshold):
        with pytest.raises(ProviderDown):
            first.call(failing)
        clock.advance(0.2)

    # Then the table says OPEN, for everybody
    item = stored(table)
    assert item is not None
    assert (item["state"], item["openedAtMs"]) == ("OPEN", round((START + 0.2) * 1000))
    assert item["failuresAtMs"] == []
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

    # When the cool-down is over: one probe, and a success closes it for both
    clock.advance(CONFIG.cooldown_seconds)
    during: list[str] = []

    def probe() -> str:
        during.append(str((stored(table) or {})["state"]))
        with pytest.raises(ProviderCircuitOpen):  # the first, meanwhile, may not probe too
            first.call(provider)
        return provider()

    assert second.call(probe) == "charged"
    assert during == ["HALF_OPEN"]
    assert calls == ["called", "called"]
    item = stored(table)
    assert item is not None
    assert item["state"] == "CLOSED"
    assert "openedAtMs" not in item
    clock.advance(CONFIG.cache_ttl_seconds)
    assert first.call(provider) == "charged"


def test_a_closed_breaker_reads_the_table_once_per_cache_ttl(table: Any, clock: FakeClock) -> None:
    breaker, reads = environment(table, clock)

    # When it guards 30 calls within one TTL
    for _ in range(30):
        assert breaker.call(lambda: "ok") == "ok"
        clock.advance(CONFIG.cache_ttl_seconds / 40)

    # Then one GetItem was made, and nothing was written
    assert reads.reads == 1
    assert stored(table) is None
    # And after the TTL it reads again
    clock.advance(CONFIG.cache_ttl_seconds)
    breaker.call(lambda: "ok")
    assert reads.reads == 2


def test_a_failed_probe_reopens_in_the_table(table: Any, clock: FakeClock) -> None:
    breaker, _ = environment(table, clock)
    for _ in range(CONFIG.failure_threshold):
        with pytest.raises(ProviderDown):
            breaker.call(failing)
    clock.advance(CONFIG.cooldown_seconds)

    with pytest.raises(ProviderDown):
        breaker.call(failing)

    item = stored(table)
    assert item is not None
    assert (item["state"], item["openedAtMs"]) == ("OPEN", round(clock.now * 1000))
    assert "probeStartedAtMs" not in item
    assert item["version"] == 4  # failure, opened, probing, re-opened


def test_without_its_table_the_breaker_lets_calls_through(clock: FakeClock, aws: None) -> None:
    breaker = CircuitBreaker(
        NAME, store=DynamoDBBreakerStore("NoSuchTable"), config=CONFIG, clock=clock
    )

    assert breaker.call(lambda: "ok") == "ok"
    for _ in range(CONFIG.failure_threshold + 1):
        with pytest.raises(ProviderDown):
            breaker.call(failing)


def test_the_outbox_relay_filter_never_matches_a_breaker_item(table: Any, clock: FakeClock) -> None:
    breaker, _ = environment(table, clock)
    for _ in range(CONFIG.failure_threshold):
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
