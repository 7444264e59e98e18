"""The X-Ray daemon's and CloudWatch's own calls, sent without a botocore client
(localcloud.endpoint.direct_calls, localcloud.cloudwatch.api), do what the boto3 client's calls
did: the endpoint sees the same operation from the same identity, meters it and injects its
faults the same way (with the client's retries), and moto ends up holding the same segments,
datapoints and alarm states; answers and errors read the same."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

from localcloud.awsclients import AwsClients
from localcloud.billing.meter import Meter
from localcloud.cloudwatch.api import CloudWatchApi
from localcloud.cloudwatch.metrics import Datum, MetricsPublisher
from localcloud.cloudwatch.sources import _QUEUE_METRICS, QueueDepthSampler
from localcloud.cloudwatch.store import MotoMetricStore
from localcloud.endpoint.calls import identify
from localcloud.endpoint.server import AwsEndpoint
from localcloud.faults.rules import FaultError, FaultRule
from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.xray.daemon import XRayDaemon
from localcloud.xray.ids import new_segment_id, new_trace_id


class Seen:
    """What the endpoint's IAM gate is shown of each AWS call: (service, operation, key)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, environ: dict[str, Any]) -> None:
        call = identify(environ)
        credential = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1]
        if call is not None:
            self.calls.append((call.service, call.operation, credential.split("/", 1)[0]))

    def take(self) -> list[tuple[str, str | None, str]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AwsEndpoint]:
    served = AwsEndpoint(runtime=None, status=lambda: {"ready": True})
    served.serve("127.0.0.1", 0)
    served.meter = Meter()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def seen(endpoint: AwsEndpoint) -> Iterator[Seen]:
    gate = Seen()
    endpoint.authorize = gate  # lets every call on
    yield gate
    endpoint.authorize = None


@pytest.fixture
def aws(endpoint: AwsEndpoint) -> AwsClients:
    """localcloud's own clients, as the daemon's and CloudWatch's were made."""
    return AwsClients(endpoint.url, in_process=True)


def calls_metered(endpoint: AwsEndpoint) -> dict[str, int]:
    assert endpoint.meter is not None
    return dict(endpoint.meter.snapshot()["calls"])


def segment(trace_id: str, name: str, started: float) -> dict[str, Any]:
    return {
        "name": name,
        "id": new_segment_id(),
        "trace_id": trace_id,
        "start_time": started,
        "end_time": started + 0.05,
        "origin": "AWS::Lambda::Function",
        "annotations": {"order": "o-1", "amount": 12.5, "paid": True},
        "subsegments": [
            {
                "id": new_segment_id(),
                "name": "DynamoDB",
                "start_time": started + 0.01,
                "end_time": started + 0.02,
                "namespace": "aws",
                "aws": {"operation": "UpdateItem", "table_name": "Orders"},
                "http": {"response": {"status": 200}},
            }
        ],
    }


def stored_trace(aws: AwsClients, trace_id: str) -> list[dict[str, Any]]:
    traces = aws.client("xray").batch_get_traces(TraceIds=[trace_id])["Traces"]
    documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
    return sorted(documents, key=lambda d: d["name"])


def test_segments_put_by_the_daemon_are_stored_as_the_clients_were(
    endpoint: AwsEndpoint, aws: AwsClients, seen: Seen
) -> None:
    # Given the same three documents under two traces, one put with the boto3 client the
    # daemon used, the other handed to the daemon
    started = time.time()
    by_client, by_daemon = new_trace_id(), new_trace_id()
    documents = {
        t: [segment(t, f"fn-{i}", started) for i in range(3)] for t in (by_client, by_daemon)
    }
    before = calls_metered(endpoint)
    answer = aws.client("xray").put_trace_segments(
        TraceSegmentDocuments=[json.dumps(d) for d in documents[by_client]]
    )
    assert answer["UnprocessedTraceSegments"] == []
    client_saw = seen.take()
    daemon = XRayDaemon(endpoint.url, port=0)
    try:
        # When the daemon sends its batch
        daemon._send([json.dumps(d) for d in documents[by_daemon]])
    finally:
        daemon.close()
    # Then the endpoint saw the same call from the same identity, and metered it alike
    assert seen.take() == client_saw == [("xray", "PutTraceSegments", "localcloud")]
    after = calls_metered(endpoint)
    assert after["xray:PutTraceSegments"] - before.get("xray:PutTraceSegments", 0) == 2
    assert daemon.stats()["sent"] == 3
    # and X-Ray holds the same documents (each under its own trace)
    client_docs = stored_trace(aws, by_client)
    daemon_docs = stored_trace(aws, by_daemon)
    assert client_docs == documents[by_client]
    assert daemon_docs == documents[by_daemon]


def test_a_refused_batch_is_tried_as_often_as_the_client_tried_then_dropped(
    endpoint: AwsEndpoint, aws: AwsClients, seen: Seen
) -> None:
    # Given X-Ray throttling every PutTraceSegments
    rule = FaultRule(
        service="xray",
        operation="PutTraceSegments",
        error=FaultError(status_code=400, code="ThrottlingException"),
    )
    endpoint.faults.add([rule])
    daemon = XRayDaemon(endpoint.url, port=0)
    daemon._xray._sleep = lambda _: None  # the backoff's wait, not its decision
    try:
        before = endpoint.faults.counts().get("xray.error", 0)
        # When the boto3 client puts a batch, and the daemon sends one
        with pytest.raises(ClientError) as refused:
            aws.client("xray").put_trace_segments(TraceSegmentDocuments=["{}"])
        by_client = endpoint.faults.counts()["xray.error"] - before
        daemon._send([json.dumps(segment(new_trace_id(), "dropped", time.time()))])
        by_daemon = endpoint.faults.counts()["xray.error"] - before - by_client
        # Then both made the same attempts (the standard retry mode's three), and the daemon
        # dropped its batch, as it did when the client raised
        assert refused.value.response["Error"]["Code"] == "ThrottlingException"
        assert by_client == by_daemon == 3
        assert daemon.stats()["sent"] == 0
    finally:
        endpoint.faults.remove([rule])
        daemon.close()


def test_the_direct_error_is_the_clients(aws: AwsClients) -> None:
    # Given an alarm that does not exist
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    # When its state is set by the boto3 client and by the direct call
    with pytest.raises(ClientError) as by_client:
        aws.client("cloudwatch").set_alarm_state(
            AlarmName=missing, StateValue="OK", StateReason="test"
        )
    with pytest.raises(ClientError) as direct:
        CloudWatchApi(aws).set_alarm_state(AlarmName=missing, StateValue="OK", StateReason="test")
    # Then both raise the same exception (the modelled class) with the same code and message
    assert type(direct.value).__name__ == type(by_client.value).__name__ == "ResourceNotFound"
    assert direct.value.response["Error"] == by_client.value.response["Error"]
    status = [e.value.response["ResponseMetadata"]["HTTPStatusCode"] for e in (direct, by_client)]
    assert status[0] == status[1]


def stored_datapoints(namespace: str) -> list[tuple[Any, ...]]:
    data = cloudwatch_backends[ACCOUNT_ID][REGION].metric_data
    return sorted(
        (
            d.name,
            float(getattr(d, "value", 0.0)),
            tuple(sorted((x.name, x.value) for x in d.dimensions)),
            d.unit,
            _utc(d.timestamp),
        )
        for d in data
        if d.namespace == namespace
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def datums(namespace: str, at: datetime) -> list[Datum]:
    """Datapoints of several metrics and seconds: repeated values (merged into Values and
    Counts), a single one (Value), a high-resolution metric, a naive time."""
    dims = {"FunctionName": "ConfirmOrder"}
    points = [Datum.of(namespace, "Invocations", 1, dimensions=dims, unit="Count", timestamp=at)]
    points += [
        Datum.of(namespace, "Duration", v, dimensions=dims, unit="Milliseconds", timestamp=at)
        for v in (12.5, 12.5, 80.25, 3.0)
    ]
    points += [
        Datum.of(namespace, "Errors", v, dimensions=dims, unit="Count", timestamp=at)
        for v in (0, 0, 0, 1)
    ]
    points.append(Datum.of(namespace, "Bare", 7, timestamp=at + timedelta(seconds=1)))
    points.append(Datum(namespace, "Fine", (0.5, 0.25), (("Stage", "v1"),), "Seconds", at, 1))
    naive = (at + timedelta(seconds=2)).replace(tzinfo=None)
    points.append(Datum(namespace, "Naive", (4.0,), (), None, naive))
    return points


def test_the_publishers_datapoints_are_stored_as_the_clients_were(
    endpoint: AwsEndpoint, aws: AwsClients, seen: Seen
) -> None:
    # Given the same datapoints for two namespaces
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    by_client, direct = f"Client/{uuid.uuid4().hex[:6]}", f"Direct/{uuid.uuid4().hex[:6]}"
    publisher = MetricsPublisher(aws, flush_seconds=999)
    sent: list[dict[str, Any]] = []
    call = publisher._cloudwatch.call

    def record(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        sent.append(dict(params))
        return call(operation, params)

    publisher._cloudwatch.call = record  # type: ignore[method-assign]
    before = calls_metered(endpoint)
    # When one set is put by the publisher, and its very requests by the boto3 client
    publisher.put(*datums(direct, at))
    publisher.flush()
    direct_saw = seen.take()
    client = aws.client("cloudwatch")
    for params in sent:
        client.put_metric_data(Namespace=by_client, MetricData=params["MetricData"])
    # Then the endpoint saw and metered the same calls from the same identity
    assert seen.take() == direct_saw == [("monitoring", "PutMetricData", "localcloud")]
    after = calls_metered(endpoint)
    put = "monitoring:PutMetricData"
    assert after[put] - before.get(put, 0) == 2
    # and moto holds the same datapoints (merged values each as often as counted)
    assert stored_datapoints(direct) == stored_datapoints(by_client)
    assert len(stored_datapoints(direct)) == publisher.put_count == 13


def put_alarms(aws: AwsClients, prefix: str) -> None:
    client = aws.client("cloudwatch")
    client.put_metric_alarm(
        AlarmName=f"{prefix}-single",
        AlarmDescription="Errors of ConfirmOrder",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "ConfirmOrder"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alarms"],
        OKActions=[f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:ok"],
        Unit="Count",
    )
    client.put_metric_alarm(
        AlarmName=f"{prefix}-p99",
        Namespace="AWS/ApiGateway",
        MetricName="Latency",
        Dimensions=[{"Name": "ApiName", "Value": "orders"}, {"Name": "Stage", "Value": "v1"}],
        ExtendedStatistic="p99",
        Period=300,
        EvaluationPeriods=1,
        Threshold=2500.5,
        ComparisonOperator="GreaterThanThreshold",
        ActionsEnabled=False,
    )
    client.put_metric_alarm(
        AlarmName=f"{prefix}-math",
        Metrics=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "errors * 100", "Label": "rate", "ReturnData": True},
        ],
        EvaluationPeriods=2,
        Threshold=5,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="ignore",
    )


def test_alarms_are_described_and_set_as_by_the_client(aws: AwsClients, seen: Seen) -> None:
    # Given alarms of each kind localcloud evaluates
    prefix = f"direct-{uuid.uuid4().hex[:6]}"
    put_alarms(aws, prefix)
    client = aws.client("cloudwatch")
    api = CloudWatchApi(aws)

    def described_by_client() -> list[dict[str, Any]]:
        pages = client.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        return [a for page in pages for a in page["MetricAlarms"]]

    seen.take()
    # When they are described by the client and directly
    direct = api.describe_metric_alarms()
    direct_saw = seen.take()
    by_client = described_by_client()
    # Then the endpoint saw the same call, and the answers are the same, timestamps included
    assert seen.take() == direct_saw == [("monitoring", "DescribeAlarms", "localcloud")]
    assert direct == by_client
    mine = [a for a in direct if a["AlarmName"].startswith(prefix)]
    assert len(mine) == 3
    assert all(isinstance(a["AlarmConfigurationUpdatedTimestamp"], datetime) for a in mine)
    # When an alarm's state is set directly
    reason_data = json.dumps({"version": "1.0", "recentDatapoints": [2.0]})
    api.set_alarm_state(
        AlarmName=f"{prefix}-single",
        StateValue="ALARM",
        StateReason="Threshold Crossed: test",
        StateReasonData=reason_data,
    )
    # Then the client reads the state, reason and reason data set
    (alarm,) = client.describe_alarms(AlarmNames=[f"{prefix}-single"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "ALARM",
        "Threshold Crossed: test",
        reason_data,
    )
    assert seen.take()[0] == ("monitoring", "SetAlarmState", "localcloud")


def test_the_alarms_window_holds_every_datapoint_of_the_watched_metrics_in_it(
    aws: AwsClients,
) -> None:
    # Given datapoints put by the publisher and by the boto3 client (moto keeps the times
    # of one naive, of the other aware), inside and around a window
    namespace = f"Window/{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(seconds=60), now
    publisher = MetricsPublisher(aws, flush_seconds=999)
    for offset in (-90, -61, -60, -30, -1, 0, 5):
        at = now + timedelta(seconds=offset)
        publisher.put(*datums(namespace, at))
        aws.client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[{"MetricName": "Errors", "Value": offset, "Timestamp": at}],
        )
    publisher.flush()
    # (moto keeps the times naive; one kept aware, as the store also reads, at the start)
    backend = cloudwatch_backends[ACCOUNT_ID][REGION]
    aware = MetricDatum(namespace, "Errors", 9.0, [], start)
    backend.metric_data.append(aware)
    try:
        watched = {(namespace, "Errors"), (namespace, "Naive"), (namespace, "Fine")}
        # When the alarms' store reads the window for the watched metrics
        window = MotoMetricStore().window(start, end, watched)
        # Then it holds exactly the datapoints of those metrics stamped within it
        found = sorted(
            (key[0], key[1], tuple(sorted(key[2])), s.unit, s.sample.value, s.sample.timestamp)
            for key, stored in window.by_metric.items()
            for s in stored
        )
        expected = sorted(
            (namespace, name, dims, unit, value, at)
            for name, value, dims, unit, at in stored_datapoints(namespace)
            if (namespace, name) in watched and start <= at < end
        )
    finally:  # other tests' moto calls compare the times naive
        backend.metric_data.remove(aware)
    assert found == expected
    assert {name for _, name, *_ in found} == {"Errors", "Naive", "Fine"}
    # three seconds in it (-60, -30, -1): Errors 4 + 1 and Fine 2 each; Naive, two seconds
    # later, at -59, -58 and -28; the aware one
    assert len(found) == 3 * (4 + 1) + 3 * 2 + 3 + 1


def test_queue_depths_are_sampled_as_the_client_reads_them(aws: AwsClients, seen: Seen) -> None:
    # Given two queues: one with a visible, an in-flight and a delayed message, one empty
    sqs = aws.client("sqs")
    busy = sqs.create_queue(QueueName=f"busy-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    empty = sqs.create_queue(QueueName=f"empty-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    for body in ("visible", "in-flight"):
        sqs.send_message(QueueUrl=busy, MessageBody=body)
    sqs.receive_message(QueueUrl=busy, MaxNumberOfMessages=1, VisibilityTimeout=300)
    sqs.send_message(QueueUrl=busy, MessageBody="delayed", DelaySeconds=300)
    publisher = MetricsPublisher(aws, flush_seconds=999)
    seen.take()
    # When the sampler samples them
    QueueDepthSampler(aws, publisher, interval=999).sample()
    # Then the endpoint saw ListQueues, then GetQueueAttributes of each queue, as the admin
    saw = seen.take()
    urls = sqs.list_queues()["QueueUrls"]
    assert saw == [("sqs", "ListQueues", "localcloud")] + [
        ("sqs", "GetQueueAttributes", "localcloud")
    ] * len(urls)
    # and each queue's depths are what the client reads of it
    sampled = {(dict(d.dimensions)["QueueName"], d.name): d.values for d in publisher._buffer}
    for url in (busy, empty):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        name = url.rsplit("/", 1)[-1]
        assert {metric: sampled[(name, metric)] for _, metric in _QUEUE_METRICS.items()} == {
            metric: (float(attributes[attribute]),) for attribute, metric in _QUEUE_METRICS.items()
        }
    assert sampled[(busy.rsplit("/", 1)[-1], "ApproximateNumberOfMessagesVisible")] == (1.0,)
    assert sampled[(busy.rsplit("/", 1)[-1], "ApproximateNumberOfMessagesNotVisible")] == (1.0,)
    assert sampled[(busy.rsplit("/", 1)[-1], "ApproximateNumberOfMessagesDelayed")] == (1.0,)
