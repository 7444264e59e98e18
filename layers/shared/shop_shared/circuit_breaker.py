"""A circuit breaker for synchronous calls to another service or an external API.

Rate-based, like resilience4j's COUNT/TIME windows or Polly's advanced circuit breaker: it
opens when, within a sliding window of `window_seconds` (kept in `window_buckets` buckets), at
least `minimum_calls` calls were made AND the share of them that failed is at or above
`failure_rate_threshold`. A low failure rate at volume never opens it; an outage does, as soon
as enough calls have seen it.

The state is shared by every concurrent environment of the calling functions: it is one item,
`BREAKER#<name>`, in the calling service's own table.

- Every call's outcome is counted with one UpdateItem that ADDs 1 to the counters of the
  current bucket (`calls_<bucketStartMs>`, `failures_<bucketStartMs>`): DynamoDB applies the
  ADD atomically, so concurrent environments never lose a count, and the update's answer (the
  whole item, ReturnValues ALL_NEW) is the state the caller decides on, with no extra read.
- Every change of state is an UpdateItem conditioned on the item's `version` (bumped by each
  transition, never by a count), so two environments never both open it or both start a
  half-open round. A transition also removes the window's buckets: each state starts counting
  afresh.

    CLOSED    calls go through and are counted; the failed call that brings the window to
              >= `minimum_calls` calls with a failure rate >= the threshold opens the breaker.
    OPEN      calls fail fast with a typed error (a `CircuitOpen`), the dependency is not called,
              until `cooldown_seconds` have passed since it opened.
    HALF_OPEN after the cool-down, up to `half_open_calls` trial calls go through (claimed with a
              conditional ADD on `trials`); everybody else keeps failing fast. The first trial
              that answers closes the breaker, the first that fails opens it again for another
              cool-down. Trials that never report (their environment died) are replaced by a new
              half-open round after a cool-down.

Only transient failures count (timeouts, connection errors, 5xx and throttling, the project's
`TransientError`): a declined card or a 404 is a working dependency giving an answer.

    breaker = CircuitBreaker(
        "payment-provider",
        store=DynamoDBBreakerStore(table_name),
        config=settings.breaker_config(),
        open_error=PaymentProviderCircuitOpen,
    )
    charge = breaker.call(lambda: provider.charge(request))
"""

from __future__ import annotations

import http.client
import math
import re
import time
import urllib.error
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError as BotoHTTPClientError
from pydantic import ConfigDict, Field

from shop_shared.errors import TransientError
from shop_shared.models import ShopModel
from shop_shared.observability import logger
from shop_shared.settings import EnvSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

T = TypeVar("T")
Clock = Callable[[], float]  # seconds since the epoch: the environments share wall-clock time

BREAKER_ITEM_TYPE = "BREAKER"
MAX_WRITE_ATTEMPTS = 3  # conditional writes lost to other environments before giving up
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceException",
        "EC2ThrottledException",
    }
)


# ---------------------------------------------------------------- configuration


class BreakerConfig(ShopModel):
    """How sensitive a breaker is. See the template's PaymentProviderBreaker* parameters."""

    model_config = ConfigDict(frozen=True)

    failure_rate_threshold: Annotated[float, Field(gt=0, le=1)]  # 0.5: half the calls failed
    minimum_calls: Annotated[int, Field(ge=1)]  # fewer calls in the window never open it
    window_seconds: Annotated[float, Field(gt=0)]
    cooldown_seconds: Annotated[float, Field(gt=0)]
    half_open_calls: Annotated[int, Field(ge=1)] = 1
    cache_ttl_seconds: Annotated[float, Field(ge=0)]
    window_buckets: Annotated[int, Field(ge=1, le=60)] = 10

    @property
    def bucket_ms(self) -> int:
        return max(1, math.ceil(self.window_seconds * 1000 / self.window_buckets))

    def bucket_of(self, now: float) -> int:
        """The start (epoch ms) of the bucket that counts a call made at `now`."""
        width = self.bucket_ms
        return math.floor(now * 1000 / width) * width

    def in_window(self, bucket: int, now: float) -> bool:
        """Whether the bucket starting at `bucket` (epoch ms) is one of the window's buckets."""
        return self.bucket_of(now) - bucket < self.window_buckets * self.bucket_ms


class CircuitBreakerSettings(EnvSettings):
    """The breaker thresholds of a function, from its environment (set from template parameters).

    Mix into the function's settings model: `class PaymentsSettings(CircuitBreakerSettings)`.
    """

    breaker_failure_rate_percent: float = Field(
        alias="CIRCUIT_BREAKER_FAILURE_RATE_PERCENT", gt=0, le=100
    )
    breaker_minimum_calls: int = Field(alias="CIRCUIT_BREAKER_MINIMUM_CALLS", ge=1)
    breaker_window_seconds: float = Field(alias="CIRCUIT_BREAKER_WINDOW_SECONDS", gt=0)
    breaker_cooldown_seconds: float = Field(alias="CIRCUIT_BREAKER_COOLDOWN_SECONDS", gt=0)
    breaker_half_open_calls: int = Field(alias="CIRCUIT_BREAKER_HALF_OPEN_CALLS", ge=1)
    breaker_cache_ttl_seconds: float = Field(alias="CIRCUIT_BREAKER_CACHE_TTL_SECONDS", ge=0)

    def breaker_config(self) -> BreakerConfig:
        return BreakerConfig(
            failure_rate_threshold=self.breaker_failure_rate_percent / 100,
            minimum_calls=self.breaker_minimum_calls,
            window_seconds=self.breaker_window_seconds,
            cooldown_seconds=self.breaker_cooldown_seconds,
            half_open_calls=self.breaker_half_open_calls,
            cache_ttl_seconds=self.breaker_cache_ttl_seconds,
        )


# ---------------------------------------------------------------- errors


class CircuitOpen(TransientError):
    """The breaker is open: the dependency was not called. Subclass it per dependency, so the
    error names what is unavailable (the class name is the errorType the saga matches on)."""

    code: ClassVar[str] = "CIRCUIT_OPEN"
    http_status: ClassVar[int] = 503

    def __init__(self, message: str, *, breaker: str, retry_after_seconds: float) -> None:
        super().__init__(message, breaker=breaker, retry_after_seconds=retry_after_seconds)
        self.breaker = breaker
        self.retry_after_seconds = retry_after_seconds


class BreakerStoreUnavailable(Exception):
    """The breaker's state could not be read or written; the breaker then lets calls through."""


def is_transient_failure(error: BaseException) -> bool:
    """Whether `error` says the dependency is down or slow (and not that it answered "no")."""
    if isinstance(error, TransientError | TimeoutError | ConnectionError):
        return True  # CircuitOpen too: a breaker behind this one is open
    if isinstance(error, urllib.error.HTTPError):
        return error.code == 429 or error.code >= 500
    if isinstance(error, urllib.error.URLError | http.client.HTTPException):
        return True  # refused, reset, DNS, a broken response
    if isinstance(error, BotoConnectionError | BotoHTTPClientError):
        return True  # botocore's connect/read timeouts and endpoint connection errors
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(error.response.get("Error", {}).get("Code", ""))
        return status >= 500 or code in THROTTLING_CODES
    return False


# ---------------------------------------------------------------- the shared state


class CircuitState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class WindowBucket(ShopModel):
    """The calls counted in one bucket of the window, and how many of them failed."""

    model_config = ConfigDict(frozen=True)

    start_ms: int  # epoch ms, a multiple of the bucket width
    calls: Annotated[int, Field(ge=0)] = 0
    failures: Annotated[int, Field(ge=0)] = 0


class BreakerRecord(ShopModel):
    """The state every environment shares. `version` 0 is a breaker that never changed state."""

    model_config = ConfigDict(frozen=True)

    state: CircuitState = CircuitState.CLOSED
    buckets: tuple[WindowBucket, ...] = ()  # counted since the last transition, oldest first
    opened_at: float | None = None
    half_open_at: float | None = None  # when the current half-open round started
    trials: Annotated[int, Field(ge=0)] = 0  # trial calls admitted in that round
    version: Annotated[int, Field(ge=0)] = 0

    # ------------------------------------------------------------ the window

    def window(self, now: float, config: BreakerConfig) -> tuple[int, int]:
        """(calls, failures) counted in the window that ends at `now`."""
        live = [b for b in self.buckets if config.in_window(b.start_ms, now)]
        return sum(b.calls for b in live), sum(b.failures for b in live)

    def should_open(self, now: float, config: BreakerConfig) -> bool:
        calls, failures = self.window(now, config)
        return calls >= config.minimum_calls and failures >= config.failure_rate_threshold * calls

    def stale_buckets(self, now: float, config: BreakerConfig) -> list[int]:
        return [b.start_ms for b in self.buckets if not config.in_window(b.start_ms, now)]

    # ------------------------------------------------------------ transitions (version + 1)

    def _next(self, **changes: Any) -> BreakerRecord:
        return self.model_copy(update={**changes, "buckets": (), "version": self.version + 1})

    def opened(self, now: float) -> BreakerRecord:
        return self._next(state=CircuitState.OPEN, opened_at=now, half_open_at=None, trials=0)

    def half_opened(self, now: float) -> BreakerRecord:
        """A new half-open round, its first trial claimed by the caller that starts it."""
        return self._next(state=CircuitState.HALF_OPEN, half_open_at=now, trials=1)

    def closed(self) -> BreakerRecord:
        return self._next(state=CircuitState.CLOSED, opened_at=None, half_open_at=None, trials=0)

    def retry_after(self, now: float, config: BreakerConfig) -> float:
        """Seconds until a trial call may be tried (0 when it may be tried now)."""
        if self.state is CircuitState.OPEN:
            since = self.opened_at
        elif self.state is CircuitState.HALF_OPEN:
            if self.trials < config.half_open_calls:
                return 0.0
            since = self.half_open_at  # trials that never report are replaced after this
        else:
            return 0.0
        return max(0.0, (since or 0.0) + config.cooldown_seconds - now)


class BreakerStore(ABC):
    """Where a breaker's state lives. Counts are atomic additions; transitions are
    compare-and-set on the version."""

    @abstractmethod
    def load(self, name: str) -> BreakerRecord:
        """The latest state (read consistently); a fresh CLOSED record when there is none.
        Raises BreakerStoreUnavailable when it can't be read."""

    @abstractmethod
    def count(
        self, name: str, bucket_ms: int, *, failed: bool, stale: Iterable[int] = ()
    ) -> BreakerRecord:
        """Add one call (and one failure when `failed`) to the bucket starting at `bucket_ms`,
        atomically (no count is lost to a concurrent writer), drop the `stale` buckets, and
        return the state after it. Raises BreakerStoreUnavailable."""

    @abstractmethod
    def transition(self, name: str, record: BreakerRecord) -> bool:
        """Store `record`'s state if the stored version is still `record.version - 1` (0: never
        changed state), removing the counted buckets; False when another writer changed the
        state first. Raises BreakerStoreUnavailable."""

    @abstractmethod
    def claim_trial(self, name: str, record: BreakerRecord, limit: int) -> bool:
        """One more trial call in the half-open round `record` is (same version), if fewer than
        `limit` were claimed; False otherwise. Raises BreakerStoreUnavailable."""


# ---------------------------------------------------------------- the breaker


class _Verdict(Enum):
    CALL = "call"
    REJECT = "reject"
    START_TRIALS = "start trials"  # OPEN past its cool-down, or a half-open round gone stale
    JOIN_TRIALS = "join trials"  # HALF_OPEN with trial calls left


def _verdict(record: BreakerRecord, now: float, config: BreakerConfig) -> _Verdict:
    if record.state is CircuitState.CLOSED:
        return _Verdict.CALL
    if record.state is CircuitState.OPEN:
        ready = now >= (record.opened_at or 0.0) + config.cooldown_seconds
        return _Verdict.START_TRIALS if ready else _Verdict.REJECT
    if now >= (record.half_open_at or 0.0) + config.cooldown_seconds:
        return _Verdict.START_TRIALS
    return _Verdict.JOIN_TRIALS if record.trials < config.half_open_calls else _Verdict.REJECT


class CircuitBreaker:
    """Guards calls to one dependency. Create one per dependency per environment (module level),
    so its cache lives as long as the environment."""

    def __init__(
        self,
        name: str,
        *,
        store: BreakerStore,
        config: BreakerConfig,
        open_error: type[CircuitOpen] = CircuitOpen,
        is_failure: Callable[[BaseException], bool] = is_transient_failure,
        clock: Clock = time.time,
    ) -> None:
        self.name = name
        self._store = store
        self._config = config
        self._open_error = open_error
        self._is_failure = is_failure
        self._clock = clock
        self._cached: tuple[BreakerRecord, float] | None = None  # (record, when it was read)

    def call(self, operation: Callable[[], T]) -> T:
        """Run `operation` unless the breaker is open; raise `open_error` without calling it then.

        Whatever `operation` raises is raised again, after its outcome was counted.
        """
        trial = self._admit()
        try:
            result = operation()
        except Exception as error:
            self._settle(trial, failed=self._is_failure(error))
            raise
        self._settle(trial, failed=False)
        return result

    def state(self) -> CircuitState:
        """The shared state as stored now (operators, tests); bypasses the cache."""
        return self._load().state

    # ------------------------------------------------------------ admission

    def _admit(self) -> BreakerRecord | None:
        """None to call normally, the HALF_OPEN record of the round to call as a trial of;
        else raise the open error."""
        now = self._clock()
        record = self._fresh_cache(now)
        if record is None or _verdict(record, now, self._config) in (
            _Verdict.START_TRIALS,
            _Verdict.JOIN_TRIALS,
        ):
            record = self._load()  # never claim a trial on a cached (maybe stale) state
        for _ in range(MAX_WRITE_ATTEMPTS):
            verdict = _verdict(record, now, self._config)
            if verdict is _Verdict.CALL:
                return None
            if verdict is _Verdict.REJECT:
                raise self._rejection(record, now)
            if verdict is _Verdict.START_TRIALS:
                started = record.half_opened(now)
                if self._transition(started):
                    logger.info("circuit half-open: trial calls", extra={"breaker": self.name})
                    return started
            elif self._claim_trial(record):
                return record
            record = self._load()  # someone else changed it first: decide on what they wrote
        raise self._rejection(record, now)

    def _rejection(self, record: BreakerRecord, now: float) -> CircuitOpen:
        retry_after = round(record.retry_after(now, self._config), 3)
        return self._open_error(
            f"{self.name} is unavailable (circuit open); not called",
            breaker=self.name,
            retry_after_seconds=retry_after,
        )

    # ------------------------------------------------------------ outcomes

    def _settle(self, trial: BreakerRecord | None, *, failed: bool) -> None:
        if trial is not None:
            # The first trial that reports decides the round; any answer (a "no" included)
            # says the dependency works.
            now = self._clock()
            if self._transition(trial.opened(now) if failed else trial.closed()):
                if failed:
                    logger.warning(
                        "circuit re-opened: a trial failed", extra={"breaker": self.name}
                    )
                else:
                    logger.info("circuit closed: a trial succeeded", extra={"breaker": self.name})
                return
            # Another trial decided first (or the round went stale): count it as a normal call.
        self._count(failed=failed)

    def _count(self, *, failed: bool) -> None:
        now = self._clock()
        cached = self._cached[0] if self._cached else BreakerRecord()
        try:
            record = self._store.count(
                self.name,
                self._config.bucket_of(now),
                failed=failed,
                stale=cached.stale_buckets(now, self._config),
            )
        except BreakerStoreUnavailable:
            logger.warning("breaker outcome not counted", extra={"breaker": self.name})
            return
        self._cached = (record, self._clock())
        if failed and record.state is CircuitState.CLOSED and record.should_open(now, self._config):
            calls, failures = record.window(now, self._config)
            if self._transition(record.opened(now)):
                logger.warning(
                    "circuit opened",
                    extra={
                        "breaker": self.name,
                        "calls": calls,
                        "failures": failures,
                        "failure_rate": round(failures / calls, 3),
                        "window_seconds": self._config.window_seconds,
                    },
                )

    # ------------------------------------------------------------ the store, cached

    def _fresh_cache(self, now: float) -> BreakerRecord | None:
        if self._cached is None:
            return None
        record, read_at = self._cached
        return record if 0 <= now - read_at < self._config.cache_ttl_seconds else None

    def _load(self) -> BreakerRecord:
        try:
            record = self._store.load(self.name)
        except BreakerStoreUnavailable:
            # Fail open: the breaker protects the dependency, it must not become the outage.
            logger.warning(
                "breaker state unreadable: calling through", extra={"breaker": self.name}
            )
            return self._cached[0] if self._cached else BreakerRecord()
        self._cached = (record, self._clock())
        return record

    def _transition(self, record: BreakerRecord) -> bool:
        try:
            changed = self._store.transition(self.name, record)
        except BreakerStoreUnavailable:
            logger.warning("breaker state not saved", extra={"breaker": self.name})
            return False
        if changed:
            self._cached = (record, self._clock())
        return changed

    def _claim_trial(self, record: BreakerRecord) -> bool:
        try:
            return self._store.claim_trial(self.name, record, self._config.half_open_calls)
        except BreakerStoreUnavailable:
            logger.warning("breaker trial not claimed", extra={"breaker": self.name})
            return False


# ---------------------------------------------------------------- DynamoDB


def breaker_key(name: str) -> dict[str, str]:
    return {"pk": f"BREAKER#{name}"}


CALLS_PREFIX = "calls_"
FAILURES_PREFIX = "failures_"
_BUCKET_ATTRIBUTE = re.compile(r"^(calls|failures)_(\d+)$")


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


class BreakerItem(ShopModel):
    """`BREAKER#<name>` in the calling service's table (times in epoch milliseconds). Besides
    these fields it holds the window's counters, `calls_<bucketStartMs>` and
    `failures_<bucketStartMs>` (numbers, top-level so that ADD can add to them)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, Field(pattern=r"^BREAKER#.+")]
    itemType: str = BREAKER_ITEM_TYPE
    name: str = ""
    state: CircuitState = CircuitState.CLOSED  # an item made by counts alone is CLOSED
    openedAtMs: int | None = None
    halfOpenAtMs: int | None = None
    trials: Annotated[int, Field(ge=0)] = 0
    version: Annotated[int, Field(ge=0)] = 0

    @classmethod
    def record_of(cls, item: dict[str, Any]) -> BreakerRecord:
        fixed = cls.model_validate(item)
        counters: dict[int, dict[str, int]] = {}
        for attribute, value in item.items():
            match = _BUCKET_ATTRIBUTE.match(attribute)
            if match:
                counters.setdefault(int(match[2]), {})[match[1]] = int(value)
        return BreakerRecord(
            state=fixed.state,
            buckets=tuple(WindowBucket(start_ms=s, **counters[s]) for s in sorted(counters)),
            opened_at=_seconds(fixed.openedAtMs),
            half_open_at=_seconds(fixed.halfOpenAtMs),
            trials=fixed.trials,
            version=fixed.version,
        )


class DynamoDBBreakerStore(BreakerStore):
    """The breaker's item in the calling service's own table (key `pk`). A table that also has
    a sort key gives its fixed value for breaker items: `sort_key={"sk": "BREAKER"}`.

    Only GetItem (consistent) and UpdateItem: the role needs nothing else on the table."""

    def __init__(
        self,
        table_name: str,
        table: Table | None = None,
        *,
        sort_key: dict[str, str] | None = None,
    ) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)
        self._sort_key = dict(sort_key or {})

    def _key(self, name: str) -> dict[str, str]:
        return {**breaker_key(name), **self._sort_key}

    def load(self, name: str) -> BreakerRecord:
        try:
            item = self._table.get_item(Key=self._key(name), ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise BreakerStoreUnavailable(str(error)) from error
        return BreakerItem.record_of(dict(item)) if item else BreakerRecord()

    def count(
        self, name: str, bucket_ms: int, *, failed: bool, stale: Iterable[int] = ()
    ) -> BreakerRecord:
        names = {
            "#itemType": "itemType",
            "#name": "name",
            "#updatedAt": "updatedAt",
            "#state": "state",
            "#version": "version",
            "#trials": "trials",
        }
        values: dict[str, Any] = {
            ":itemType": BREAKER_ITEM_TYPE,
            ":name": name,
            ":updatedAt": datetime.now(UTC).isoformat(),
            ":one": 1,
            ":closed": CircuitState.CLOSED.value,
            ":zero": 0,
        }
        names["#calls"] = f"{CALLS_PREFIX}{bucket_ms}"
        adds = ["#calls :one"]
        if failed:
            names["#failures"] = f"{FAILURES_PREFIX}{bucket_ms}"
            adds.append("#failures :one")
        removes: list[str] = []
        for index, start in enumerate(sorted(set(stale) - {bucket_ms})):
            names[f"#sc{index}"] = f"{CALLS_PREFIX}{start}"
            names[f"#sf{index}"] = f"{FAILURES_PREFIX}{start}"
            removes += [f"#sc{index}", f"#sf{index}"]
        expression = (
            "SET #itemType = :itemType, #name = :name, #updatedAt = :updatedAt,"
            " #state = if_not_exists(#state, :closed), #version = if_not_exists(#version, :zero),"
            " #trials = if_not_exists(#trials, :zero)"
            f" ADD {', '.join(adds)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        )
        try:
            answer = self._table.update_item(
                Key=self._key(name),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as error:
            raise BreakerStoreUnavailable(str(error)) from error
        return BreakerItem.record_of(dict(answer["Attributes"]))

    def transition(self, name: str, record: BreakerRecord) -> bool:
        expected = record.version - 1
        names = {
            "#itemType": "itemType",
            "#name": "name",
            "#state": "state",
            "#version": "version",
            "#trials": "trials",
            "#updatedAt": "updatedAt",
            "#openedAtMs": "openedAtMs",
            "#halfOpenAtMs": "halfOpenAtMs",
        }
        values: dict[str, Any] = {
            ":itemType": BREAKER_ITEM_TYPE,
            ":name": name,
            ":state": record.state.value,
            ":version": record.version,
            ":trials": record.trials,
            ":updatedAt": datetime.now(UTC).isoformat(),
        }
        sets = [
            "#itemType = :itemType",
            "#name = :name",
            "#state = :state",
            "#version = :version",
            "#trials = :trials",
            "#updatedAt = :updatedAt",
        ]
        removes: list[str] = []
        for attribute, at in (
            ("openedAtMs", record.opened_at),
            ("halfOpenAtMs", record.half_open_at),
        ):
            if at is None:
                removes.append(f"#{attribute}")
            else:
                sets.append(f"#{attribute} = :{attribute}")
                values[f":{attribute}"] = _ms(at)
        # Each state counts afresh: remove the buckets counted so far (a count that lands
        # between the read and this write stays; it was made at about this time anyway).
        current = self.load(name)
        for index, bucket in enumerate(current.buckets):
            names[f"#bc{index}"] = f"{CALLS_PREFIX}{bucket.start_ms}"
            names[f"#bf{index}"] = f"{FAILURES_PREFIX}{bucket.start_ms}"
            removes += [f"#bc{index}", f"#bf{index}"]
        if expected == 0:
            condition = "attribute_not_exists(#version) OR #version = :expected"
        else:
            condition = "#version = :expected"
        values[":expected"] = expected
        expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        return self._conditional_update(name, expression, condition, names, values)

    def claim_trial(self, name: str, record: BreakerRecord, limit: int) -> bool:
        return self._conditional_update(
            name,
            "ADD #trials :one",
            "#version = :version AND #state = :halfOpen AND #trials < :limit",
            {"#trials": "trials", "#version": "version", "#state": "state"},
            {
                ":one": 1,
                ":version": record.version,
                ":halfOpen": CircuitState.HALF_OPEN.value,
                ":limit": limit,
            },
        )

    def _conditional_update(
        self,
        name: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        try:
            self._table.update_item(
                Key=self._key(name),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise BreakerStoreUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise BreakerStoreUnavailable(str(error)) from error
        return True
