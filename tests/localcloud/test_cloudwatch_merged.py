"""PutMetricData as the MetricsPublisher sends it: the datapoints of one metric within one second
merged into one MetricData member (`Values` and `Counts`), read back with exactly the statistics
of the same datapoints put one member each, through moto's GetMetricStatistics and GetMetricData
and through the store the alarms read."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud.awsclients import AwsClients
from localcloud.cloudwatch.metrics import Datum, MetricsPublisher
from localcloud.cloudwatch.store import MetricId, MotoMetricStore, statistic
from localcloud.endpoint.server import AwsEndpoint

STATISTICS = ["SampleCount", "Sum", "Average", "Minimum", "Maximum"]
PERCENTILES = ["p50", "p90", "p99", "p100"]


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsClients]:
    endpoint = AwsEndpoint(runtime=None, status=lambda: {"ready": True})
    endpoint.serve("127.0.0.1", 0)
    try:
        yield AwsClients(endpoint.url, in_process=True)
    finally:
        endpoint.close()


def close(a: Any, b: Any) -> bool:
    """Equal, but for the last bits of a float sum (the merged values are added in another
    order, as CloudWatch may add them in any order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def recorded_requests(publisher: MetricsPublisher) -> list[dict[str, Any]]:
    """The PutMetricData parameters the publisher sends from now on."""
    sent: list[dict[str, Any]] = []
    call = publisher._cloudwatch.call

    def record(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if operation == "PutMetricData":
            sent.append(dict(params))
        return call(operation, params)

    publisher._cloudwatch.call = record  # type: ignore[method-assign]
    return sent


def burst(namespace: str, name: str, start: datetime, seed: int) -> list[Datum]:
    """A second-by-second mix like a burst's: many 0s and 1s, latencies that repeat, more than
    150 distinct values within one second, each stamped at its own microsecond."""
    rng = random.Random(seed)
    dims = {"FunctionName": "PlaceOrderFunction"}
    datums = []
    for i in range(900):
        moment = start + timedelta(seconds=rng.uniform(0, 4))
        value = rng.choice([0, 1, 1, rng.randint(1, 400), rng.uniform(0, 2000)])
        if i < 200:  # more than 150 distinct values in the first second
            moment, value = start + timedelta(microseconds=i), 1000 + i
        datums.append(
            Datum.of(namespace, name, value, dimensions=dims, unit="Count", timestamp=moment)
        )
    return datums


def put_one_member_each(aws: AwsClients, datums: list[Datum]) -> None:
    """The same datapoints as separate MetricData members, each with its own timestamp."""
    members = [
        {
            "MetricName": d.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in d.dimensions],
            "Timestamp": d.timestamp,
            "Value": d.values[0],
            "Unit": d.unit,
        }
        for d in datums
    ]
    for start in range(0, len(members), 1000):
        aws.client("cloudwatch").put_metric_data(
            Namespace=datums[0].namespace, MetricData=members[start : start + 1000]
        )


def moto_statistics(aws: AwsClients, namespace: str, name: str, start: datetime) -> list[Any]:
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "FunctionName", "Value": "PlaceOrderFunction"}],
        StartTime=start - timedelta(minutes=1),
        EndTime=start + timedelta(minutes=1),
        Period=600,
        Statistics=STATISTICS,
    )["Datapoints"]
    return [{s: point[s] for s in STATISTICS} for point in points]


def moto_metric_data(
    aws: AwsClients, namespace: str, name: str, start: datetime
) -> dict[str, list[float]]:
    metric = {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": [{"Name": "FunctionName", "Value": "PlaceOrderFunction"}],
    }
    queries = [
        {"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 1, "Stat": stat}}
        for stat in STATISTICS
    ]
    results = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=start + timedelta(seconds=5),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    return {r["Id"]: r["Values"] for r in results}


def store_statistics(namespace: str, name: str, start: datetime) -> list[list[float | None]]:
    """Every statistic (percentiles too) the alarms compute, in each one-second period."""
    metric = MetricId(namespace, name, frozenset({("FunctionName", "PlaceOrderFunction")}))
    window = MotoMetricStore().window(start, start + timedelta(seconds=5))
    periods = [start + timedelta(seconds=s) for s in range(5)]
    return [
        [
            statistic(window.samples(metric, at, at + timedelta(seconds=1)), stat)
            for stat in STATISTICS + PERCENTILES
        ]
        for at in periods
    ]


def test_merged_datapoints_give_the_statistics_of_the_same_datapoints_put_one_by_one(
    aws: AwsClients,
) -> None:
    # Given the same datapoints under two metric names, spread over four seconds
    namespace = f"Merged-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    merged = burst(namespace, "Merged", start, seed=8)
    separate = [
        Datum.of(
            namespace,
            "Separate",
            d.values[0],
            dimensions=dict(d.dimensions),
            unit=d.unit,
            timestamp=d.timestamp,
        )
        for d in merged
    ]
    # When one set goes through the publisher and the other one member per datapoint
    publisher = MetricsPublisher(aws)
    sent = recorded_requests(publisher)
    publisher.put(*merged)
    publisher.flush()
    put_one_member_each(aws, separate)

    # Then the publisher sent far fewer members, Values with Counts, none over 150 values
    members = [m for request in sent for m in request["MetricData"]]
    assert len(members) < 30
    assert any(m.get("Counts") for m in members)
    assert all(len(m.get("Values", [])) <= 150 for m in members)
    assert publisher.put_count == 900
    # and every reader sees the same statistics for both
    assert close(
        moto_statistics(aws, namespace, "Merged", start),
        moto_statistics(aws, namespace, "Separate", start),
    )
    assert close(
        moto_metric_data(aws, namespace, "Merged", start),
        moto_metric_data(aws, namespace, "Separate", start),
    )
    merged_stats = store_statistics(namespace, "Merged", start)
    assert close(merged_stats, store_statistics(namespace, "Separate", start))
    first_second_count = merged_stats[0][0]
    assert first_second_count is not None
    assert first_second_count > 200  # the 1st second holds the 200 distinct values and more


def test_metrics_that_differ_in_dimensions_unit_or_resolution_stay_apart(
    aws: AwsClients,
) -> None:
    # Given datapoints of one name at one moment, with other dimensions, units, resolutions
    namespace = f"Apart-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    datums = [
        Datum.of(namespace, "Latency", 5, dimensions={"ApiName": "shop"}, timestamp=now),
        Datum.of(namespace, "Latency", 5, dimensions={"ApiName": "other"}, timestamp=now),
        Datum.of(namespace, "Latency", 5, unit="Milliseconds", timestamp=now),
        Datum(namespace, "Latency", (5.0,), timestamp=now, storage_resolution=1),
        Datum.of(namespace, "Latency", 5, dimensions={"ApiName": "shop"}, timestamp=now),
    ]
    publisher = MetricsPublisher(aws)
    sent = recorded_requests(publisher)
    # When they are flushed
    publisher.put(*datums)
    publisher.flush()
    # Then each metric has its member; the two identical datapoints are counted twice
    (request,) = sent
    shapes = [
        (
            tuple(d["Value"] for d in m["Dimensions"]),
            m.get("Unit"),
            m.get("StorageResolution"),
            m.get("Value"),
            m.get("Values"),
            m.get("Counts"),
        )
        for m in request["MetricData"]
    ]
    assert sorted(shapes, key=repr) == sorted(
        [
            (("shop",), None, None, None, [5.0], [2.0]),
            (("other",), None, None, 5.0, None, None),
            ((), "Milliseconds", None, 5.0, None, None),
            ((), None, 1, 5.0, None, None),
        ],
        key=repr,
    )
    assert publisher.put_count == 5


def test_datums_of_many_metrics_are_put_in_calls_cloudwatch_accepts(aws: AwsClients) -> None:
    # Given 1,200 metrics, one of them with 400 distinct values in one second
    namespace = f"Batch-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    publisher = MetricsPublisher(aws)
    sent = recorded_requests(publisher)
    publisher.put(*(Datum.of(namespace, f"m{i}", i, timestamp=now) for i in range(1200)))
    publisher.put(*(Datum.of(namespace, "wide", v, timestamp=now) for v in range(400)))
    # When they are flushed
    publisher.flush()
    # Then no call holds more than 1,000 members nor a member more than 150 values, and
    # CloudWatch took every datapoint
    assert [len(r["MetricData"]) for r in sent] == [1000, 203]
    assert publisher.put_count == 1600
    wide = aws.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName="wide",
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
        Period=600,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    assert [(p["SampleCount"], p["Sum"]) for p in wide] == [(400.0, float(sum(range(400))))]
