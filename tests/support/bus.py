"""Every event on the shop's bus, read through a rule and a queue of the test's own (as an
auditor would subscribe to it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.localcloud_process import RunningLocalCloud


def capture_the_bus(cloud: RunningLocalCloud, name: str) -> str:
    """A queue `name` that receives every event on the shop's bus from now on (a rule `name`)."""
    bus = cloud.status()["environments"]["OrdersEventRelayFunction"]["EVENT_BUS_NAME"]
    queue_url = cloud.aws.sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = cloud.aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule_arn = cloud.aws.events.put_rule(
        Name=name, EventBusName=bus, EventPattern='{"source": [{"prefix": ""}]}'
    )["RuleArn"]
    # EventBridge delivers only what the queue's policy lets it send, for this rule
    allow_the_rule = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    cloud.aws.sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(allow_the_rule)}
    )
    cloud.aws.events.put_targets(
        Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}]
    )
    return queue_url


def drain(cloud: RunningLocalCloud, queue_url: str) -> list[str]:
    """The bodies (EventBridge events, as JSON) the capture queue holds now."""
    bodies: list[str] = []
    while True:
        messages = cloud.aws.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(m["Body"] for m in messages)
        cloud.aws.sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
