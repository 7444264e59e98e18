"""CloudWatch and SNS as localcloud runs them, on moto's server in this process: metrics put
into moto, alarms evaluated on them with scaled periods, notifications delivered to SQS, HTTP
and email subscriptions, and the KMS rule that stops an alarm publishing to an alias/aws/sns
topic. (The whole template's alarms are driven end to end in tests/e2e/test_alarms.py.)"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from localcloud.awsclients import AwsClients
from localcloud.cloudwatch.emf import datums_of_line
from localcloud.cloudwatch.service import CloudWatch
from localcloud.endpoint.server import AwsEndpoint
from localcloud.lambda_.runtime import InvokeResult
from localcloud.sns.delivery import SnsDelivery, delivered_messages
from tests.support.polling import eventually

SCALE = 0.02  # a 60 s period lasts 1.2 s, rounded to 1 s


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AwsEndpoint]:
    delivery = SnsDelivery(http_retries=0).install()
    served = AwsEndpoint(runtime=None, status=lambda: {"ready": True})
    served.serve("127.0.0.1", 0)
    delivery.endpoint_url = served.url
    try:
        yield served
    finally:
        served.close()
        delivery.uninstall()


@pytest.fixture
def aws(endpoint: AwsEndpoint) -> AwsClients:
    return AwsClients(endpoint.url)


@pytest.fixture
def cloudwatch(aws: AwsClients) -> Iterator[CloudWatch]:
    service = CloudWatch(aws, period_scale=SCALE)
    yield service
    service.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def queue_alarm(aws: AwsClients, queue: str, topic_arn: str) -> str:
    name = unique("depth")
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription="messages are waiting",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": queue}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
        OKActions=[topic_arn],
    )
    return name


def alarm_state(aws: AwsClients, name: str) -> dict[str, Any]:
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm


def subscribed_queue(aws: AwsClients, topic_arn: str) -> str:
    url = aws.sqs.create_queue(QueueName=unique("pager"))["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def confirmation(topic_arn: str, endpoint: str) -> dict[str, Any] | None:
    """The SubscriptionConfirmation SNS sent to an email or HTTP endpoint, once sent."""
    sent = [
        m
        for m in delivered_messages()
        if m.get("type") == "SubscriptionConfirmation"
        and (m["topicArn"], m["endpoint"]) == (topic_arn, endpoint)
    ]
    return sent[-1] if sent else None


def visit(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def notifications(aws: AwsClients, queue_url: str) -> list[dict[str, Any]]:
    messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.received.append((headers, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def http_subscriber() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alarms", _Recorder.received
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- the page


def test_a_waiting_message_raises_the_alarm_and_pages_every_subscriber(
    aws: AwsClients,
    cloudwatch: CloudWatch,
    http_subscriber: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    # Given an operator queue, a topic with SQS, HTTP and email subscribers, and the alarm
    queue_url = aws.sqs.create_queue(QueueName=unique("operator"))["QueueUrl"]
    queue = queue_url.rsplit("/", 1)[-1]
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name=unique("alerts"), Attributes={"DisplayName": "Ops"})[
        "TopicArn"
    ]
    pager = subscribed_queue(aws, topic_arn)
    url, posts = http_subscriber
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=url)
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="ops@example.com")
    # (the HTTP endpoint follows the SubscribeURL it was posted; the operator clicks the link)
    assert eventually(lambda: posts)
    confirmation_headers, confirmation_body = posts.pop()
    assert confirmation_headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert visit(confirmation_body["SubscribeURL"])[0] == 200
    mail = confirmation(topic_arn, "ops@example.com")
    assert mail is not None
    assert mail["subscribeUrl"] in mail["body"]
    assert visit(mail["subscribeUrl"])[0] == 200
    name = queue_alarm(aws, queue, topic_arn)
    cloudwatch.start()
    # the alarm starts as CloudWatch's do, then the empty queue is OK
    assert eventually(lambda: alarm_state(aws, name)["StateValue"] == "OK")

    # When a case lands on the queue
    aws.sqs.send_message(QueueUrl=queue_url, MessageBody="{}")

    # Then the alarm is in ALARM, with CloudWatch's reason
    assert eventually(lambda: alarm_state(aws, name)["StateValue"] == "ALARM")
    alarm = alarm_state(aws, name)
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoint [1.0")
    assert "greater than or equal to the threshold (1.0)" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"][-1] == 1.0
    # and the queue subscriber got CloudWatch's notification, in SNS's envelope
    pages = eventually(lambda: notifications(aws, pager))
    (ok, *_), alarm_page = pages[:1], pages[-1]
    assert json.loads(ok["Message"])["NewStateValue"] == "OK"
    message = json.loads(alarm_page["Message"])
    assert alarm_page["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        name,
        "OK",
        "ALARM",
    )
    assert message["NewStateReason"] == alarm["StateReason"]
    assert message["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert message["Trigger"]["Dimensions"] == [{"value": queue, "name": "QueueName"}]
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["AlarmActions"] == [topic_arn]
    # the HTTP subscriber got the same JSON, POSTed with SNS's headers
    assert eventually(lambda: len(posts) >= 2)
    headers, envelope = posts[-1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-topic-arn"] == topic_arn
    assert headers["x-amz-sns-message-id"] == envelope["MessageId"]
    assert json.loads(envelope["Message"])["NewStateValue"] == "ALARM"
    # and the email subscriber got the readable text, captured at /_localcloud/sns/messages
    emails = [
        m
        for m in delivered_messages()
        if m["topicArn"] == topic_arn and m.get("type") != "SubscriptionConfirmation"
    ]
    assert [m["endpoint"] for m in emails if m["protocol"] == "email"] == ["ops@example.com"] * 2
    assert emails[-1]["subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    assert emails[-1]["source"] == '"Ops" <no-reply@sns.amazonaws.com>'
    assert f'Amazon CloudWatch Alarm "{name}"' in emails[-1]["body"]
    assert "- State Change:               OK -> ALARM" in emails[-1]["body"]

    # When the case is taken off the queue, the alarm goes back to OK
    (taken,) = aws.sqs.receive_message(QueueUrl=queue_url)["Messages"]
    aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=taken["ReceiptHandle"])
    assert eventually(lambda: alarm_state(aws, name)["StateValue"] == "OK")


def test_an_alarm_cannot_publish_to_a_topic_under_the_aws_managed_key(
    aws: AwsClients, cloudwatch: CloudWatch
) -> None:
    # Given a topic encrypted with alias/aws/sns, with a queue subscribed, and an alarm on it
    queue = unique("operator")
    queue_url = aws.sqs.create_queue(QueueName=queue)["QueueUrl"]
    topic_arn = aws.client("sns").create_topic(
        Name=unique("managed-key"), Attributes={"KmsMasterKeyId": "alias/aws/sns"}
    )["TopicArn"]
    pager = subscribed_queue(aws, topic_arn)
    name = queue_alarm(aws, queue, topic_arn)
    cloudwatch.start()

    # When the alarm fires
    aws.sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    assert eventually(lambda: alarm_state(aws, name)["StateValue"] == "ALARM")

    # Then its action failed, with CloudWatch's error, and nobody was paged
    failures = eventually(
        lambda: [f for f in cloudwatch.alarms.action_failures if f["alarm"] == name]
    )
    assert failures
    assert (
        "does not have authorization to access the SNS topic encryption key"
        in (failures[0]["error"])
    )
    assert notifications(aws, pager) == []


def test_a_customer_managed_key_that_allows_cloudwatch_is_published_to(
    aws: AwsClients, cloudwatch: CloudWatch
) -> None:
    # Given a topic under a key whose policy lets cloudwatch.amazonaws.com use it
    kms = aws.client("kms")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        ],
    }
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    queue = unique("operator")
    queue_url = aws.sqs.create_queue(QueueName=queue)["QueueUrl"]
    topic_arn = aws.client("sns").create_topic(
        Name=unique("own-key"), Attributes={"KmsMasterKeyId": key}
    )["TopicArn"]
    pager = subscribed_queue(aws, topic_arn)
    name = queue_alarm(aws, queue, topic_arn)
    cloudwatch.start()

    # When the alarm fires, the page arrives
    aws.sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    pages = eventually(
        lambda: [p for p in notifications(aws, pager) if '"NewStateValue": "ALARM"' in p["Message"]]
    )
    assert json.loads(pages[0]["Message"])["AlarmName"] == name


# ---------------------------------------------------------------- metric sources


def test_lambda_invocations_and_emf_lines_become_metrics_in_moto(
    aws: AwsClients, cloudwatch: CloudWatch
) -> None:
    # Given the runtime's observer
    function = unique("Fn")
    observer = cloudwatch.lambda_metrics
    # When a function runs twice, fails once, is throttled once, and prints an EMF line
    observer.invoked(function, InvokeResult(b"{}", None, cold_start=True, duration_ms=12.0))
    observer.invoked(function, InvokeResult(b"{}", "Unhandled", cold_start=False, duration_ms=3))
    observer.throttled(function)
    emf = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "OrdersPlaced", "Unit": "Count"}],
                }
            ],
        },
        "service": function,
        "OrdersPlaced": [1.0, 2.0],
    }
    observer.output(function, json.dumps(emf))
    observer.output(function, '{"level": "INFO", "message": "not a metric"}')
    cloudwatch.publisher.flush()

    # Then get-metric-statistics on the AWS endpoint shows them
    def sum_of(namespace: str, metric: str, dimension: str) -> float:
        now = datetime.now(UTC)
        points = aws.client("cloudwatch").get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": function}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=600,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert sum_of("AWS/Lambda", "Invocations", "FunctionName") == 2
    assert sum_of("AWS/Lambda", "Errors", "FunctionName") == 1
    assert sum_of("AWS/Lambda", "Throttles", "FunctionName") == 1
    assert sum_of("AWS/Lambda", "Duration", "FunctionName") == 15
    assert sum_of("Shop", "OrdersPlaced", "service") == 3


def test_emf_lines_follow_the_specification() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1764597600000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Shop",
                        "Dimensions": [["service"], ["service", "operation"]],
                        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                    }
                ],
            },
            "service": "orders",
            "operation": "place",
            "Latency": 7,
        }
    )
    datums = datums_of_line(line)
    assert [d.dimensions for d in datums] == [
        (("service", "orders"),),
        (("service", "orders"), ("operation", "place")),
    ]
    assert {(d.namespace, d.name, d.values, d.unit) for d in datums} == {
        ("Shop", "Latency", (7.0,), "Milliseconds")
    }
    assert datums[0].timestamp == datetime(2025, 12, 1, 14, 0, tzinfo=UTC)
    # a dimension that is not a string member, or a value that is not a number, gives nothing
    assert datums_of_line(line.replace('"orders"', "1")) == []
    assert datums_of_line(line.replace('"Latency": 7', '"Latency": "7"')) == []
    assert datums_of_line("START RequestId: 1 Version: $LATEST") == []


def test_an_alarm_on_metric_math_is_evaluated(aws: AwsClients, cloudwatch: CloudWatch) -> None:
    # Given an error-rate alarm (errors / invocations >= 50%) over a function's metrics
    function = unique("Fn")
    dimensions = [{"Name": "FunctionName", "Value": function}]

    def stat(query_id: str, metric: str) -> dict[str, Any]:
        watched = {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dimensions}
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": watched,
                "Period": 300,  # 6 s here: time for the flush and a tick on a busy machine
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    name = unique("error-rate")
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=1,
        Threshold=50,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        Metrics=[
            stat("errors", "Errors"),
            stat("invocations", "Invocations"),
            {"Id": "rate", "Expression": "100 * errors / invocations", "ReturnData": True},
        ],
    )
    cloudwatch.start()
    # When half of the invocations fail
    for failed in (None, "Unhandled"):
        cloudwatch.lambda_metrics.invoked(
            function, InvokeResult(b"{}", failed, cold_start=False, duration_ms=1.0)
        )
    # Then the alarm is in ALARM
    assert eventually(lambda: alarm_state(aws, name)["StateValue"] == "ALARM")
    assert "[50.0 (" in alarm_state(aws, name)["StateReason"]


def test_nothing_is_delivered_to_a_subscription_until_it_is_confirmed(aws: AwsClients) -> None:
    # Given an email subscription its owner has not confirmed
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name=unique("unconfirmed"))["TopicArn"]
    address = f"{unique('someone')}@example.com"
    arn = sns.subscribe(
        TopicArn=topic_arn, Protocol="email", Endpoint=address, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "true"

    def mailed() -> list[dict[str, Any]]:
        return [
            m
            for m in delivered_messages()
            if m["endpoint"] == address and m.get("type") != "SubscriptionConfirmation"
        ]

    # When a message is published, it is not delivered
    sns.publish(TopicArn=topic_arn, Message="before", Subject="first")
    assert mailed() == []
    # and a wrong token confirms nothing
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.confirm_subscription(TopicArn=topic_arn, Token="not-the-token")

    # When the owner confirms with the token SNS mailed
    mail = confirmation(topic_arn, address)
    assert mail is not None
    token = parse_qs(urlsplit(mail["subscribeUrl"]).query)["Token"][0]
    assert sns.confirm_subscription(TopicArn=topic_arn, Token=token)["SubscriptionArn"] == arn

    # Then the subscription is confirmed and the next message is delivered
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic_arn, Message="after", Subject="second")
    assert [m["subject"] for m in mailed()] == ["second"]
    assert mailed()[0]["body"].startswith("after")


def _failing_machine_run_twice(aws: AwsClients, endpoint: AwsEndpoint) -> str:
    """A state machine that fails, run twice by moto's interpreter to the end; its ARN."""
    config = urllib.request.Request(
        f"{endpoint.url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(config, timeout=10).close()
    sfn = aws.stepfunctions
    definition = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}
    machine = sfn.create_state_machine(
        name=unique("failing"),
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    for _ in range(2):
        sfn.start_execution(stateMachineArn=machine, name=unique("run"))

    def failed() -> bool:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        return [e["status"] for e in executions] == ["FAILED", "FAILED"]

    assert eventually(failed)
    return machine


def _failed_count(aws: AwsClients, machine: str) -> float:
    now = datetime.now(UTC)
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/States",
        MetricName="ExecutionsFailed",
        Dimensions=[{"Name": "StateMachineArn", "Value": machine}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_finished_executions_are_counted_once_each(aws: AwsClients, endpoint: AwsEndpoint) -> None:
    from localcloud.cloudwatch.metrics import MetricsPublisher
    from localcloud.cloudwatch.sources import ExecutionWatcher

    # Given a state machine that fails, run twice by moto's interpreter
    machine = _failing_machine_run_twice(aws, endpoint)

    # When the watcher scans twice
    publisher = MetricsPublisher(aws)
    watcher = ExecutionWatcher(publisher, interval=1)
    watcher.scan()
    watcher.scan()
    publisher.flush()

    # Then AWS/States ExecutionsFailed counts each execution once
    assert _failed_count(aws, machine) == 2


def test_an_execution_listed_before_its_start_is_counted_when_it_ends(
    aws: AwsClients, endpoint: AwsEndpoint
) -> None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from localcloud.cloudwatch.metrics import MetricsPublisher
    from localcloud.cloudwatch.sources import ExecutionWatcher

    # Given two failed executions, one of them seen by the watcher as moto lists an execution
    # its interpreter has not started yet (no status)
    machine = _failing_machine_run_twice(aws, endpoint)
    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    (state_machine,) = [m for m in backend.state_machines if m.arn == machine]
    unstarted: Any = state_machine.executions[-1]
    status, unstarted.exec_status = unstarted.exec_status, None
    publisher = MetricsPublisher(aws)
    watcher = ExecutionWatcher(publisher, interval=1)

    # When the watcher scans then, and again once the execution has its status
    watcher.scan()
    unstarted.exec_status = status
    watcher.scan()
    publisher.flush()

    # Then the scan did not fail, and each execution is counted once, when it ended
    assert _failed_count(aws, machine) == 2
