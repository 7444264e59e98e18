"""Metric datapoints on their way into moto's CloudWatch (PutMetricData, batched).

Sources hand datapoints to a `MetricsPublisher` from any thread (a Lambda invocation, an API
request, a worker's EMF line); a flusher thread sends them with put_metric_data every
`flush_seconds`, at most 1000 per call as CloudWatch allows. So `aws cloudwatch
get-metric-statistics` against the local endpoint shows them, and the alarms read them there.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_DATUMS_PER_CALL = 1000  # PutMetricData's limit per request
MAX_VALUES_PER_DATUM = 150  # and per datum's Values array


@dataclass(frozen=True)
class Datum:
    """One metric datapoint (or several values of one metric at one time)."""

    namespace: str
    name: str
    values: tuple[float, ...]
    dimensions: tuple[tuple[str, str], ...] = ()
    unit: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    storage_resolution: int | None = None

    @classmethod
    def of(
        cls,
        namespace: str,
        name: str,
        value: float,
        *,
        dimensions: Mapping[str, str] | None = None,
        unit: str | None = None,
        timestamp: datetime | None = None,
    ) -> Datum:
        return cls(
            namespace,
            name,
            (float(value),),
            tuple((dimensions or {}).items()),
            unit,
            timestamp or datetime.now(UTC),
        )

    def as_request(self) -> dict[str, Any]:
        """This datum as one MetricData member of a PutMetricData request."""
        member: dict[str, Any] = {
            "MetricName": self.name,
            "Timestamp": self.timestamp,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
        }
        if len(self.values) == 1:
            member["Value"] = self.values[0]
        else:
            member["Values"] = list(self.values)
        if self.unit:
            member["Unit"] = self.unit
        if self.storage_resolution:
            member["StorageResolution"] = self.storage_resolution
        return member


class MetricsPublisher:
    """Buffers datapoints and puts them into CloudWatch (moto) on a background thread."""

    def __init__(self, clients: AwsClients, flush_seconds: float = 1.0) -> None:
        self._cloudwatch = clients.client("cloudwatch")
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._buffer: list[Datum] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.put_count = 0  # datums accepted by CloudWatch so far

    def put(self, *datums: Datum) -> None:
        with self._lock:
            self._buffer.extend(datums)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cloudwatch-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            datums, self._buffer = self._buffer, []
        for namespace, members in _requests(datums):
            try:
                self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=members)
            except (BotoCoreError, ClientError):
                log.warning(
                    "metrics dropped: put_metric_data failed",
                    extra={"namespace": namespace, "count": len(members)},
                    exc_info=True,
                )
                continue
            self.put_count += len(members)


def _requests(datums: Iterable[Datum]) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """(namespace, MetricData) per PutMetricData call: one namespace a call, 1000 datums."""
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for datum in datums:
        for values in _chunks(datum.values, MAX_VALUES_PER_DATUM):
            member = replace(datum, values=tuple(values)).as_request()
            by_namespace[datum.namespace].append(member)
    for namespace, members in by_namespace.items():
        for chunk in _chunks(members, MAX_DATUMS_PER_CALL):
            yield namespace, list(chunk)


def _chunks(items: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
