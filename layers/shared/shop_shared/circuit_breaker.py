"""A circuit breaker for synchronous calls to another service or an external API.

The state is shared by every concurrent environment of the calling functions: it is one item,
`BREAKER#<name>`, in the calling service's own table, changed only by conditional writes on its
`version`, so two environments never both open it or both probe it. A short local cache keeps
a closed (or freshly opened) breaker from costing a read on every call.

    CLOSED    calls go through; a transient failure is recorded with its time, and the
              `failure_threshold`-th failure within `failure_window_seconds` opens the breaker.
    OPEN      calls fail fast with a typed error (a `CircuitOpen`), the dependency is not called,
              until `cooldown_seconds` have passed since it opened.
    HALF_OPEN after the cool-down, the one caller whose conditional write wins calls the
              dependency as a probe; everybody else keeps failing fast. The probe's success
              closes the breaker, its transient failure opens it again for another cool-down. A
              probe that never reports (its environment died) is replaced after a cool-down.

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
import time
import urllib.error
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar

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

    failure_threshold: Annotated[int, Field(ge=1)]
    failure_window_seconds: Annotated[float, Field(gt=0)]
    cooldown_seconds: Annotated[float, Field(gt=0)]
    cache_ttl_seconds: Annotated[float, Field(ge=0)]


class CircuitBreakerSettings(EnvSettings):
    """The breaker thresholds of a function, from its environment (set from template parameters).

    Mix into the function's settings model: `class PaymentsSettings(CircuitBreakerSettings)`.
    """

    breaker_failure_threshold: int = Field(alias="CIRCUIT_BREAKER_FAILURE_THRESHOLD", ge=1)
    breaker_failure_window_seconds: float = Field(
        alias="CIRCUIT_BREAKER_FAILURE_WINDOW_SECONDS", gt=0
    )
    breaker_cooldown_seconds: float = Field(alias="CIRCUIT_BREAKER_COOLDOWN_SECONDS", gt=0)
    breaker_cache_ttl_seconds: float = Field(alias="CIRCUIT_BREAKER_CACHE_TTL_SECONDS", ge=0)

    def breaker_config(self) -> BreakerConfig:
        return BreakerConfig(
            failure_threshold=self.breaker_failure_threshold,
            failure_window_seconds=self.breaker_failure_window_seconds,
            cooldown_seconds=self.breaker_cooldown_seconds,
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


class BreakerRecord(ShopModel):
    """The state every environment shares. `version` 0 is a breaker that was never stored."""

    model_config = ConfigDict(frozen=True)

    state: CircuitState = CircuitState.CLOSED
    failures: tuple[float, ...] = ()  # times of the latest transient failures (while CLOSED)
    opened_at: float | None = None
    probe_started_at: float | None = None
    version: Annotated[int, Field(ge=0)] = 0

    def _next(self, **changes: Any) -> BreakerRecord:
        return self.model_copy(update={**changes, "version": self.version + 1})

    def with_failure(self, now: float, config: BreakerConfig) -> BreakerRecord:
        """CLOSED: remember the failure; the threshold-th one inside the window opens."""
        recent = [at for at in self.failures if at > now - config.failure_window_seconds]
        recent = [*recent, now][-config.failure_threshold :]
        if len(recent) >= config.failure_threshold:
            return self.opened(now)
        return self._next(failures=tuple(recent))

    def opened(self, now: float) -> BreakerRecord:
        return self._next(
            state=CircuitState.OPEN, failures=(), opened_at=now, probe_started_at=None
        )

    def probing(self, now: float) -> BreakerRecord:
        return self._next(state=CircuitState.HALF_OPEN, probe_started_at=now)

    def closed(self) -> BreakerRecord:
        return self._next(
            state=CircuitState.CLOSED, failures=(), opened_at=None, probe_started_at=None
        )

    def retry_after(self, now: float, config: BreakerConfig) -> float:
        """Seconds until a probe may be tried (0 when it may be tried now)."""
        if self.state is CircuitState.OPEN:
            since = self.opened_at
        elif self.state is CircuitState.HALF_OPEN:
            since = self.probe_started_at  # a probe that never reports is replaced after this
        else:
            return 0.0
        return max(0.0, (since or 0.0) + config.cooldown_seconds - now)


class BreakerStore(ABC):
    """Where a breaker's state lives; every write is a compare-and-set on the version."""

    @abstractmethod
    def load(self, name: str) -> BreakerRecord:
        """The latest state (read consistently); a fresh CLOSED record when there is none.
        Raises BreakerStoreUnavailable when it can't be read."""

    @abstractmethod
    def save(self, name: str, record: BreakerRecord) -> bool:
        """Store `record` if the stored version is still `record.version - 1` (0: no item);
        False when another writer got there first. Raises BreakerStoreUnavailable."""


# ---------------------------------------------------------------- the breaker


class _Verdict(Enum):
    CALL = "call"
    REJECT = "reject"
    PROBE = "probe"


def _verdict(record: BreakerRecord, now: float, config: BreakerConfig) -> _Verdict:
    if record.state is CircuitState.CLOSED:
        return _Verdict.CALL
    return _Verdict.PROBE if record.retry_after(now, config) == 0 else _Verdict.REJECT


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

        Whatever `operation` raises is raised again, after a transient failure was recorded.
        """
        probe = self._admit()
        try:
            result = operation()
        except Exception as error:
            if self._is_failure(error):
                self._record_failure(probe)
            elif probe is not None:
                self._close(probe)  # it answered, even if the answer is "no": it works
            raise
        if probe is not None:
            self._close(probe)
        return result

    def state(self) -> CircuitState:
        """The shared state as stored now (operators, tests); bypasses the cache."""
        return self._load().state

    # ------------------------------------------------------------ admission

    def _admit(self) -> BreakerRecord | None:
        """None to call normally, the claimed HALF_OPEN record to call as the probe; else raise."""
        now = self._clock()
        record = self._fresh_cache(now)
        if record is None or _verdict(record, now, self._config) is _Verdict.PROBE:
            record = self._load()  # never claim the probe on a cached (maybe stale) state
        for _ in range(MAX_WRITE_ATTEMPTS):
            verdict = _verdict(record, now, self._config)
            if verdict is _Verdict.CALL:
                return None
            if verdict is _Verdict.REJECT:
                raise self._rejection(record, now)
            claimed = record.probing(now)
            if self._save(claimed):
                logger.info("circuit half-open: probing", extra={"breaker": self.name})
                return claimed
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

    def _record_failure(self, probe: BreakerRecord | None) -> None:
        if probe is not None and self._save(probe.opened(self._clock())):
            logger.warning("circuit re-opened: the probe failed", extra={"breaker": self.name})
            return
        # Not probing, or not our probe any more (its lease ran out, another caller probes):
        # count it as a failure while CLOSED.
        for _ in range(MAX_WRITE_ATTEMPTS):
            now = self._clock()
            current = self._load()
            if current.state is not CircuitState.CLOSED:
                return  # already open, or somebody else's probe decides
            changed = current.with_failure(now, self._config)
            if self._save(changed):
                if changed.state is CircuitState.OPEN:
                    logger.warning(
                        "circuit opened",
                        extra={
                            "breaker": self.name,
                            "failures": self._config.failure_threshold,
                            "window_seconds": self._config.failure_window_seconds,
                        },
                    )
                return
        logger.warning("breaker failure not recorded: contention", extra={"breaker": self.name})

    def _close(self, probe: BreakerRecord) -> None:
        if self._save(probe.closed()):
            logger.info("circuit closed: the probe succeeded", extra={"breaker": self.name})

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

    def _save(self, record: BreakerRecord) -> bool:
        try:
            saved = self._store.save(self.name, record)
        except BreakerStoreUnavailable:
            logger.warning("breaker state not saved", extra={"breaker": self.name})
            return False
        if saved:
            self._cached = (record, self._clock())
        return saved


# ---------------------------------------------------------------- DynamoDB


def breaker_key(name: str) -> dict[str, str]:
    return {"pk": f"BREAKER#{name}"}


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


class BreakerItem(ShopModel):
    """`BREAKER#<name>` in the calling service's table (times in epoch milliseconds)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pk: Annotated[str, Field(pattern=r"^BREAKER#.+")]
    itemType: Literal["BREAKER"] = "BREAKER"
    name: Annotated[str, Field(min_length=1)]
    state: CircuitState
    failuresAtMs: list[int] = Field(default_factory=list)
    openedAtMs: int | None = None
    probeStartedAtMs: int | None = None
    version: Annotated[int, Field(ge=1)]
    updatedAt: datetime

    @classmethod
    def of(cls, name: str, record: BreakerRecord) -> BreakerItem:
        return cls(
            **breaker_key(name),
            name=name,
            state=record.state,
            failuresAtMs=[round(at * 1000) for at in record.failures],
            openedAtMs=_ms(record.opened_at),
            probeStartedAtMs=_ms(record.probe_started_at),
            version=record.version,
            updatedAt=datetime.now(UTC),
        )

    def to_record(self) -> BreakerRecord:
        return BreakerRecord(
            state=self.state,
            failures=tuple(at / 1000 for at in self.failuresAtMs),
            opened_at=_seconds(self.openedAtMs),
            probe_started_at=_seconds(self.probeStartedAtMs),
            version=self.version,
        )

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class DynamoDBBreakerStore(BreakerStore):
    """The breaker's item in the calling service's own table (key `pk`). A table that also has
    a sort key gives its fixed value for breaker items: `sort_key={"sk": "BREAKER"}`."""

    def __init__(
        self,
        table_name: str,
        table: Table | None = None,
        *,
        sort_key: dict[str, str] | None = None,
    ) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)
        self._sort_key = dict(sort_key or {})

    def load(self, name: str) -> BreakerRecord:
        key = {**breaker_key(name), **self._sort_key}
        try:
            item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise BreakerStoreUnavailable(str(error)) from error
        return BreakerItem.model_validate(item).to_record() if item else BreakerRecord()

    def save(self, name: str, record: BreakerRecord) -> bool:
        expected = record.version - 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected == 0
            else {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": expected},
            }
        )
        try:
            item = {**BreakerItem.of(name, record).to_item(), **self._sort_key}
            self._table.put_item(Item=item, **condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise BreakerStoreUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise BreakerStoreUnavailable(str(error)) from error
        return True
