"""Metric datapoints on their way into moto's CloudWatch (PutMetricData, batched).

Sources hand datapoints to a `MetricsPublisher` from any thread (a Lambda invocation, an API
request, a worker's EMF line); a flusher thread sends them with put_metric_data every
`flush_seconds` (localcloud.cloudwatch.api: without a botocore client). So
`aws cloudwatch get-metric-statistics` against the local endpoint shows
them, and the alarms read them there.

A flush merges what PutMetricData lets one member carry: the datapoints of one metric (name,
dimensions, unit, storage resolution) within one second go in one MetricData member, as
`Values` (at most 150 distinct ones) with their `Counts`; at most 1000 members a call. The
request's size was the cost (botocore validating and serializing it, moto parsing it): a burst
puts ~80 datapoints per order, most of them 0s and 1s (Invocations, Errors, Count, 4XXError,
5XXError); merged, they make ~3.5 times fewer members. The statistics do not change: moto
stores value i `Counts[i]` times, as separate datapoints, so SampleCount, Sum, Minimum, Maximum
and the percentiles are those of the separate datapoints. Each is stamped with its whole
second, CloudWatch's finest resolution (a high-resolution metric's; standard ones are kept by
the minute); moto's GetMetricStatistics and GetMetricData round StartTime and EndTime down to
the second, and the alarms' periods are whole seconds, so every query finds what it found
before (tests/localcloud/test_cloudwatch_merged.py).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.cloudwatch.api import CloudWatchApi

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


class MetricsPublisher:
    """Buffers datapoints and puts them into CloudWatch (moto) on a background thread."""

    def __init__(self, clients: AwsClients, flush_seconds: float = 1.0) -> None:
        self._cloudwatch = CloudWatchApi(clients)
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._buffer: list[Datum] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.put_count = 0  # datapoints (values, each as often as counted) accepted so far

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
                self._cloudwatch.put_metric_data(namespace, members)
            except (BotoCoreError, ClientError):
                log.warning(
                    "metrics dropped: put_metric_data failed",
                    extra={"namespace": namespace, "count": len(members)},
                    exc_info=True,
                )
                continue
            self.put_count += sum(_datapoints(member) for member in members)


@dataclass(frozen=True)
class _Series:
    """What one MetricData member holds: one metric, within one second."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str | None
    storage_resolution: int | None
    second: datetime


def _requests(datums: Iterable[Datum]) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """(namespace, MetricData) per PutMetricData call: one namespace a call, each metric's
    datapoints of one second merged into one member, 1000 members a call."""
    by_namespace: dict[str, dict[_Series, dict[float, int]]] = defaultdict(dict)
    for datum in datums:
        series = _Series(
            datum.name,
            datum.dimensions,
            datum.unit,
            datum.storage_resolution,
            datum.timestamp.replace(microsecond=0),
        )
        counts = by_namespace[datum.namespace].setdefault(series, {})
        for value in datum.values:
            counts[value] = counts.get(value, 0) + 1
    for namespace, by_series in by_namespace.items():
        members = [
            _member(series, list(chunk))
            for series, counts in by_series.items()
            for chunk in _chunks(list(counts.items()), MAX_VALUES_PER_DATUM)
        ]
        for chunk in _chunks(members, MAX_DATUMS_PER_CALL):
            yield namespace, list(chunk)


def _member(series: _Series, counted: list[tuple[float, int]]) -> dict[str, Any]:
    """One MetricData member: `Value` for a single datapoint, else `Values` and `Counts`."""
    member: dict[str, Any] = {
        "MetricName": series.name,
        "Timestamp": series.second,
        "Dimensions": [{"Name": name, "Value": value} for name, value in series.dimensions],
    }
    if len(counted) == 1 and counted[0][1] == 1:
        member["Value"] = counted[0][0]
    else:
        member["Values"] = [value for value, _ in counted]
        if any(count != 1 for _, count in counted):
            member["Counts"] = [float(count) for _, count in counted]
    if series.unit:
        member["Unit"] = series.unit
    if series.storage_resolution:
        member["StorageResolution"] = series.storage_resolution
    return member


def _datapoints(member: dict[str, Any]) -> int:
    if "Values" not in member:
        return 1
    return int(sum(member.get("Counts") or [1.0] * len(member["Values"])))


def _chunks(items: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
