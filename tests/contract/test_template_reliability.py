"""Nothing is dropped and every loss pages someone (issue 7): stream mappings send what they
give up on to a queue, every dead-letter and on-failure queue has an alarm, the workflows,
the API and the saga steps have theirs, and the alarms reach a subscribed, usable topic."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.contract.test_least_privilege import OWNER_PREFIXES, service_of, task_functions
from tests.support.template import ROOT, loaded_template, raw_template

template = loaded_template()
resources = template.resources
TOPIC = "OperatorAlertsTopic"


def ref_of(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value}")


def mappings(kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (name, properties)
        for name, properties in template.of_type("AWS::Lambda::EventSourceMapping")
        if ("StreamArn" in json.dumps(properties["EventSourceArn"])) == (kind == "stream")
    ]
    assert found, kind
    return found


def alarms() -> list[tuple[str, dict[str, Any]]]:
    return list(template.of_type("AWS::CloudWatch::Alarm"))


def alarm_on(namespace: str, metric: str, dimension: str, target: str) -> list[str]:
    return [
        name
        for name, alarm in alarms()
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric
        and any(
            d["Name"] == dimension and ref_of(d["Value"]) == target
            for d in alarm.get("Dimensions", [])
        )
    ]


def test_no_sam_event_source_attaches_a_managed_policy() -> None:
    for name, resource in raw_template()["Resources"].items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            assert event["Type"] not in ("DynamoDB", "SQS", "Kinesis"), name


@pytest.mark.parametrize(
    ("name", "mapping"), mappings("stream"), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_stream_mapping_keeps_what_it_gives_up_on(name: str, mapping: dict[str, Any]) -> None:
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    queue = ref_of(destination)
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    function = mapping["FunctionName"]["Ref"]
    assert queue.startswith(OWNER_PREFIXES[service_of(function)]), (name, queue)
    assert mapping["BisectBatchOnFunctionError"] is True
    assert int(mapping["MaximumRetryAttempts"]) >= 0  # -1 would retry until the record expires
    assert alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue)


def dead_letter_and_failure_queues() -> set[str]:
    queues = {
        ref_of(properties["RedrivePolicy"]["deadLetterTargetArn"])
        for _, properties in template.of_type("AWS::SQS::Queue")
        if "RedrivePolicy" in properties
    }
    queues |= {
        ref_of(m["DestinationConfig"]["OnFailure"]["Destination"])
        for _, m in template.of_type("AWS::Lambda::EventSourceMapping")
        if "DestinationConfig" in m
    }
    queues.add("OperatorQueue")  # a case an operator must handle
    return queues


@pytest.mark.parametrize("queue", sorted(dead_letter_and_failure_queues()))
def test_every_dead_letter_and_failure_queue_has_an_alarm(queue: str) -> None:
    names = alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue)
    assert names, f"nobody hears of a message on {queue}"
    for name in names:
        alarm = resources[name]["Properties"]
        assert float(alarm["Threshold"]) <= 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("machine", ["OrderSagaStateMachine", "OrderCancellationStateMachine"])
@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_every_workflow_end_but_success_pages(machine: str, metric: str) -> None:
    assert alarm_on("AWS/States", metric, "StateMachineArn", machine)


def test_api_5xx_pages() -> None:
    api_name = raw_template()["Resources"]["Api"]["Properties"]["Name"]
    found = [
        alarm
        for _, alarm in alarms()
        if alarm.get("MetricName") == "5XXError"
        and {"Name": "ApiName", "Value": api_name} in alarm["Dimensions"]
    ]
    assert found


def saga_steps() -> set[str]:
    return {
        function
        for _, machine in template.of_type("AWS::StepFunctions::StateMachine")
        for function in task_functions(machine)
    }


@pytest.mark.parametrize("function", sorted(saga_steps()))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_saga_step_errors_and_throttles_page(function: str, metric: str) -> None:
    assert alarm_on("AWS/Lambda", metric, "FunctionName", function)


def test_every_alarm_pages_the_operator_topic() -> None:
    assert len(alarms()) >= 20
    for name, alarm in alarms():
        assert [ref_of(a) for a in alarm["AlarmActions"]] == [TOPIC], name


def test_cloudwatch_may_publish_to_the_encrypted_topic() -> None:
    topic = resources[TOPIC]["Properties"]
    key = ref_of(topic["KmsMasterKeyId"])  # not alias/aws/sns: CloudWatch can't use that one
    policy = resources[key]["Properties"]["KeyPolicy"]
    grants = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    (grant,) = grants
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grant["Action"])


def test_the_topic_has_a_subscription_from_a_parameter() -> None:
    subscriptions = [
        p for _, p in template.of_type("AWS::SNS::Subscription") if ref_of(p["TopicArn"]) == TOPIC
    ]
    (subscription,) = subscriptions
    assert subscription["Protocol"] in ("email", "https")
    assert subscription["Endpoint"] == {"Ref": "OperatorAlertEmail"}


def dashboard_metrics() -> list[list[Any]]:
    (dashboard,) = [p for _, p in template.of_type("AWS::CloudWatch::Dashboard")]
    body = dashboard["DashboardBody"]["Fn::Sub"]
    text = body if isinstance(body, str) else body[0]
    document = json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", text))
    return [
        metric
        for widget in document["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]


def test_the_dashboard_shows_the_order_funnel_as_the_orders_functions_emit_it() -> None:
    from orders.models import DATA_MODELS

    funnel = {m[1] for m in dashboard_metrics() if m[0] == "Shop"}
    assert {"OrderPlaced", "OrderConfirmed", "OrderRejected", "OrderNeedsAttention"} <= funnel
    for metric in dashboard_metrics():
        if metric[0] == "Shop":
            assert metric[2:4] == ["service", "orders"]  # Powertools' dimension, from the template
    logic = (ROOT / "functions" / "orders" / "orders" / "logic.py").read_text()
    assert 'add_metric(name="OrderPlaced"' in logic
    assert "add_metric(name=item.detailType" in logic  # every transition, by its event's name
    assert funnel - {"OrderPlaced"} <= set(DATA_MODELS)


def test_the_dashboard_shows_both_workflows_durations() -> None:
    durations = [m for m in dashboard_metrics() if m[:2] == ["AWS/States", "ExecutionTime"]]
    assert len({json.dumps(m[2:4]) for m in durations}) == 2
