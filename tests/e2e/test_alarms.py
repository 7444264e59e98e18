"""End to end on localcloud: an order that NEEDS_ATTENTION pages the operator.

localcloud runs the template as `make run` does, with CloudWatch periods scaled down (a 60 s
period lasts 3 s) so the alarms fire within seconds. A compensation fails for good (the refund
of a `tok_refund_fails` charge, after the shipment to Antarctica failed): the saga execution
FAILS and the case lands on OperatorQueue; the alarms on both go to ALARM, and the operator's
topic delivers CloudWatch's notification to its email subscription (captured; confirmed first
from the mail SNS sent, as the operator does on AWS) and to a queue the test subscribes through
the AWS endpoint.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.mutations import (
    MutationNotApplicable,
    Template,
    mutated_template,
    resource,
)
from tests.support.polling import eventually
from tests.support.shop import (
    POLE,
    SAGA_OVERRIDES,
    Client,
    new_customer,
    new_product,
    place,
    settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-alarms")]

PERIOD_SCALE = 0.05
# Compensations retried once, a second apart, so the refund fails for good within seconds.
OVERRIDES = {
    **SAGA_OVERRIDES,
    "SagaCompensationRetryIntervalSeconds": "1",
    "SagaCompensationRetryMaxAttempts": "1",
}
QUEUE_ALARM = "shop-OperatorQueueAlarm"
SAGA_ALARM = "shop-OrderSagaFailedAlarm"


@pytest.fixture
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("alarms"),
        overrides=OVERRIDES,
        alarm_period_scale=PERIOD_SCALE,
    ) as running:
        yield running


def under_the_aws_managed_key(template: Template) -> None:
    """The template before its fix: the alerts topic under SNS's AWS-managed key."""
    properties = resource(template, "OperatorAlertsTopic")["Properties"]
    if "KmsMasterKeyId" not in properties:
        raise MutationNotApplicable("OperatorAlertsTopic has no KmsMasterKeyId")
    properties["KmsMasterKeyId"] = "alias/aws/sns"


@pytest.fixture
def managed_key_cloud(tmp_path: Path) -> Iterator[RunningLocalCloud]:
    template = mutated_template(tmp_path, under_the_aws_managed_key)
    with localcloud_process(
        tmp_path, template=template, overrides=OVERRIDES, alarm_period_scale=PERIOD_SCALE
    ) as running:
        yield running


def alarms(cloud: RunningLocalCloud) -> dict[str, dict[str, Any]]:
    described = cloud.aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in described}


def operator_topic(cloud: RunningLocalCloud) -> str:
    return str(alarms(cloud)[QUEUE_ALARM]["AlarmActions"][0])


def subscribe_queue(cloud: RunningLocalCloud, topic_arn: str) -> str:
    sqs = cloud.aws.sqs
    url = sqs.create_queue(QueueName=f"pager-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    cloud.aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def pages(cloud: RunningLocalCloud, queue_url: str) -> list[dict[str, Any]]:
    """The alarm notifications the subscribed queue received (left on the queue)."""
    received = cloud.aws.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in received]


def test_an_order_that_needs_attention_pages_the_operator(cloud: RunningLocalCloud) -> None:
    # Given the operator's topic (the template subscribes the operator's email), a queue
    # subscribed to it as well, and alarms that have settled after start-up
    topic_arn = operator_topic(cloud)
    sns = cloud.aws.client("sns")
    (email,) = [
        s["Endpoint"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if s["Protocol"] == "email"
    ]
    # (the operator confirms the email subscription from the mail SNS sent, as on AWS)
    (confirmation,) = [
        m
        for m in cloud.sns_messages()
        if m.get("type") == "SubscriptionConfirmation" and m["endpoint"] == email
    ]
    with urllib.request.urlopen(confirmation["subscribeUrl"], timeout=10) as response:
        assert response.status == 200
    pager = subscribe_queue(cloud, topic_arn)
    assert eventually(lambda: alarms(cloud)[QUEUE_ALARM]["StateValue"] == "OK")
    admin = Client(cloud, cloud.token("alarms-admin", admin=True))
    sku = new_product(admin, stock=5, price=990)
    customer = new_customer(cloud)

    # When an order's shipment fails and its refund fails for good
    order_id = place(customer, sku, 1, "tok_refund_fails", shippingAddress=POLE)
    order = settled(customer, order_id, "PENDING")
    assert order["status"] == "NEEDS_ATTENTION"

    # Then the alarms on the operator queue and on failed saga executions are in ALARM
    def in_alarm() -> dict[str, dict[str, Any]] | None:
        now = alarms(cloud)
        wanted = (now[QUEUE_ALARM]["StateValue"], now[SAGA_ALARM]["StateValue"])
        return now if wanted == ("ALARM", "ALARM") else None

    fired = eventually(in_alarm)
    assert fired, {name: a["StateValue"] for name, a in alarms(cloud).items()}
    assert fired[QUEUE_ALARM]["StateReason"].startswith("Threshold Crossed: 1 out of the last 1")
    assert "greater than or equal to the threshold (1.0)" in fired[QUEUE_ALARM]["StateReason"]
    # and alarms on healthy parts stayed quiet, though they see their metrics: the API's
    # requests are counted under the dimensions its 5xx alarm watches
    api_alarm = fired["shop-ApiServerErrorsAlarm"]
    assert api_alarm["StateValue"] == "OK"
    now = datetime.now(UTC)
    requests = cloud.aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApiGateway",
        MetricName="Count",
        Dimensions=api_alarm["Dimensions"],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in requests) >= 3  # product, customer, order, and the polls
    # and the functions' own EMF metrics (Powertools Metrics) are there too
    cloudwatch = cloud.aws.client("cloudwatch")
    (placed,) = cloudwatch.list_metrics(Namespace="Shop", MetricName="OrderPlaced")["Metrics"]
    orders_placed = cloudwatch.get_metric_statistics(
        Namespace="Shop",
        MetricName="OrderPlaced",
        Dimensions=placed["Dimensions"],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in orders_placed) == 1

    # and the page reached the queue subscriber, in CloudWatch's words
    def alarm_pages() -> dict[str, dict[str, Any]] | None:
        found = {p["AlarmName"]: p for p in pages(cloud, pager) if p["NewStateValue"] == "ALARM"}
        return found if {QUEUE_ALARM, SAGA_ALARM} <= found.keys() else None

    received = eventually(alarm_pages)
    assert received, pages(cloud, pager)
    queue_page = received[QUEUE_ALARM]
    assert queue_page["NewStateReason"] == fired[QUEUE_ALARM]["StateReason"]
    assert queue_page["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert queue_page["Trigger"]["Dimensions"] == [{"value": "OperatorQueue", "name": "QueueName"}]
    assert queue_page["AlarmActions"] == [topic_arn]

    # and the operator's mailbox, with the readable text
    mails = eventually(
        lambda: [
            m
            for m in cloud.sns_messages()
            if m["protocol"] == "email" and m["subject"].startswith("ALARM:")
        ]
    )
    subjects = {m["subject"] for m in mails}
    assert f'ALARM: "{QUEUE_ALARM}" in US East (N. Virginia)' in subjects
    assert {m["endpoint"] for m in mails} == {email}
    assert any("An order NEEDS_ATTENTION" in m["body"] for m in mails)
    # and localcloud's log has one line per change of state
    assert f"alarm {QUEUE_ALARM} OK -> ALARM: Threshold Crossed" in cloud.log()


def test_an_alarm_cannot_page_through_a_topic_under_the_aws_managed_key(
    managed_key_cloud: RunningLocalCloud,
) -> None:
    # Given the template with its alerts topic under alias/aws/sns, the operator's email
    # subscription confirmed, and a queue subscribed too
    cloud = managed_key_cloud
    topic_arn = operator_topic(cloud)
    for mail in cloud.sns_messages():
        if mail.get("type") == "SubscriptionConfirmation":
            with urllib.request.urlopen(mail["subscribeUrl"], timeout=10) as response:
                assert response.status == 200
    pager = subscribe_queue(cloud, topic_arn)
    assert eventually(lambda: alarms(cloud)[QUEUE_ALARM]["StateValue"] == "OK")

    # When a case lands on the operator queue
    queue_url = cloud.aws.sqs.get_queue_url(QueueName="OperatorQueue")["QueueUrl"]
    cloud.aws.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"orderId": "x"}))

    # Then the alarm goes to ALARM, but its action fails as it does on AWS
    assert eventually(lambda: alarms(cloud)[QUEUE_ALARM]["StateValue"] == "ALARM")

    def failed_actions() -> list[str]:
        status = cloud.status()["cloudwatch"]["alarms"]
        (alarm,) = [a for a in status if a["name"] == QUEUE_ALARM]
        return list(alarm["failedActions"])

    failures = eventually(failed_actions)
    assert failures, "the alarm's action did not fail"
    assert f"Failed to execute action {topic_arn}" in failures[0]
    assert "does not have authorization to access the SNS topic encryption key" in failures[0]
    assert "Failed to execute action" in cloud.log()
    # and nobody is paged
    assert pages(cloud, pager) == []
    assert [m for m in cloud.sns_messages() if m.get("type") != "SubscriptionConfirmation"] == []
