"""Reading metric datapoints back out of moto's CloudWatch, and CloudWatch's statistics on them.

The alarms read the raw datapoints moto holds (this process runs moto's server) rather than
GetMetricData: moto's GetMetricData neither computes percentiles nor metric math (its
expression parser only returns a query's own values), and scans every datapoint per period.
Everything put with PutMetricData, by localcloud or by `aws cloudwatch put-metric-data`, is
seen the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from localcloud.spec import ACCOUNT_ID, REGION

# Datapoints are appended as they arrive; one may carry a timestamp this much older than those
# appended before it (a batch flushed late, an execution's stop date) and still be found.
LATE_ARRIVAL = timedelta(minutes=5)
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    unit: str | None = None


@dataclass(frozen=True)
class Sample:
    """One stored datapoint: a value, or a statistic set."""

    timestamp: datetime
    count: float
    total: float
    minimum: float
    maximum: float
    value: float | None  # the raw value (None for a statistic set)


class MotoMetricStore:
    """The datapoints moto's CloudWatch backend holds for this account and region."""

    def __init__(self, account_id: str = ACCOUNT_ID, region: str = REGION) -> None:
        self._account_id = account_id
        self._region = region

    def window(
        self,
        start: datetime,
        end: datetime,
        metrics: Iterable[tuple[str, str]] | None = None,
    ) -> MetricWindow:
        """Every datapoint stamped in [start, end), read in one pass, by metric; only those of
        `metrics` (namespace, metric name) when given: the alarms' evaluation reads the
        metrics its alarms watch, and a burst stores ~80 datapoints an order, most of them of
        metrics no alarm watches."""
        data = cloudwatch_backends[self._account_id][self._region].metric_data
        wanted = None if metrics is None else set(metrics)
        by_metric: dict[tuple[str, str, frozenset[tuple[str, str]]], list[_Stored]] = {}
        oldest_wanted = start - LATE_ARRIVAL
        # moto keeps its datapoints' times naive (UTC): compared as they are, made aware only
        # for the datapoints kept (a datapoint stored with an aware time is compared aware)
        naive_oldest, naive_start, naive_end = (
            moment.astimezone(UTC).replace(tzinfo=None) for moment in (oldest_wanted, start, end)
        )
        for index in range(len(data) - 1, -1, -1):
            datum = data[index]
            timestamp = datum.timestamp
            if timestamp.tzinfo is None:
                if timestamp < naive_oldest:
                    break
                if not naive_start <= timestamp < naive_end:
                    continue
            else:
                if timestamp < oldest_wanted:
                    break
                if not start <= timestamp < end:
                    continue
            if wanted is not None and (datum.namespace, datum.name) not in wanted:
                continue
            sample = _sample(datum, _aware(timestamp))
            if sample is None:
                continue
            dimensions = frozenset((str(d.name), str(d.value)) for d in datum.dimensions)
            key = (datum.namespace, datum.name, dimensions)
            by_metric.setdefault(key, []).append(_Stored(datum.unit, sample))
        for stored in by_metric.values():
            stored.reverse()
        return MetricWindow(by_metric)

    def samples(self, metric: MetricId, start: datetime, end: datetime) -> list[Sample]:
        return self.window(start, end).samples(metric, start, end)


@dataclass(frozen=True)
class _Stored:
    unit: str | None
    sample: Sample


@dataclass(frozen=True)
class MetricWindow:
    """Datapoints of a time window, by CloudWatch's identity of a metric: namespace, name and
    the exact set of dimensions (and the unit, when the alarm names one)."""

    by_metric: dict[tuple[str, str, frozenset[tuple[str, str]]], list[_Stored]]

    def samples(self, metric: MetricId, start: datetime, end: datetime) -> list[Sample]:
        stored = self.by_metric.get((metric.namespace, metric.name, metric.dimensions), [])
        return [
            s.sample
            for s in stored
            if start <= s.sample.timestamp < end and metric.unit in (None, s.unit)
        ]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sample(datum: object, timestamp: datetime) -> Sample | None:
    if isinstance(datum, MetricDatum):
        value = float(datum.value)
        return Sample(timestamp, 1.0, value, value, value, value)
    if isinstance(datum, MetricAggregatedDatum):
        return Sample(
            timestamp,
            float(datum.sample_count),
            float(datum.sum),
            float(datum.min),
            float(datum.max),
            None,
        )
    return None


def statistic(samples: Sequence[Sample], name: str) -> float | None:
    """CloudWatch's statistic over one period's samples; None when it has no value."""
    if not samples:
        return None
    count = sum(s.count for s in samples)
    if name == "SampleCount":
        return count
    if name == "Sum":
        return sum(s.total for s in samples)
    if name == "Average":
        return sum(s.total for s in samples) / count if count else None
    if name == "Minimum":
        return min(s.minimum for s in samples)
    if name == "Maximum":
        return max(s.maximum for s in samples)
    match = _PERCENTILE.match(name)
    if match:
        return _percentile([s.value for s in samples if s.value is not None], float(match[1]))
    raise ValueError(f"statistic {name} is not supported by localcloud")


def is_supported_statistic(name: str) -> bool:
    return name in {"SampleCount", "Sum", "Average", "Minimum", "Maximum"} or bool(
        _PERCENTILE.match(name)
    )


def _percentile(values: Iterable[float], percent: float) -> float | None:
    """Nearest-rank percentile of the raw values (statistic sets carry no distribution)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]
