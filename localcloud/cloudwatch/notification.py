"""The message a CloudWatch alarm sends to its SNS actions when its state changes.

CloudWatch publishes a JSON document (AlarmName, NewStateValue, NewStateReason,
StateChangeTime, Trigger, ...) with the subject `ALARM: "<name>" in <region name>`; email
subscriptions get a readable text instead. Both go in one Publish with MessageStructure json
(`default` and `email`), so SQS/HTTP subscribers get the JSON and a mailbox the text.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session

from localcloud.cloudwatch.evaluation import Decision, iso_millis
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.cloudwatch.alarms import MetricAlarm

SUBJECT_LIMIT = 100  # SNS refuses a longer Subject


@cache
def region_name(region: str = REGION) -> str:
    """e.g. "US East (N. Virginia)", from botocore's endpoint data."""
    endpoints = botocore.session.get_session().get_data("endpoints")
    for partition in endpoints["partitions"]:
        if region in partition["regions"]:
            return str(partition["regions"][region]["description"])
    return region


def subject(alarm: MetricAlarm, new_state: str) -> str:
    text = f'{new_state}: "{alarm.name}" in {region_name()}'
    return text[:SUBJECT_LIMIT]


def message(alarm: MetricAlarm, old_state: str, decision: Decision, at: datetime) -> dict[str, Any]:
    """The JSON document subscribers other than email receive."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": iso_millis(alarm.configuration_updated),
        "NewStateValue": decision.state,
        "NewStateReason": decision.reason,
        "StateChangeTime": iso_millis(at),
        "Region": region_name(),
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger(alarm),
    }


def trigger(alarm: MetricAlarm) -> dict[str, Any]:
    rule = alarm.rule
    described = alarm.described
    base: dict[str, Any] = {
        "Period": alarm.period,
        "EvaluationPeriods": rule.evaluation_periods,
        "DatapointsToAlarm": rule.datapoints_to_alarm,
        "ComparisonOperator": rule.comparison_operator,
        "Threshold": rule.threshold,
        "TreatMissingData": rule.treat_missing_data,
        "EvaluateLowSampleCountPercentile": described.get("EvaluateLowSampleCountPercentile", ""),
    }
    if described.get("Metrics"):
        return {"Metrics": [_query(q) for q in described["Metrics"]], **base}
    statistic_type = "ExtendedStatistic" if described.get("ExtendedStatistic") else "Statistic"
    statistic = described.get("ExtendedStatistic") or str(described.get("Statistic", ""))
    return {
        "MetricName": described.get("MetricName"),
        "Namespace": described.get("Namespace"),
        "StatisticType": statistic_type,
        "Statistic": statistic.upper() if statistic_type == "Statistic" else statistic,
        "Unit": described.get("Unit"),
        "Dimensions": [
            {"value": d["Value"], "name": d["Name"]} for d in described.get("Dimensions", [])
        ],
        **base,
    }


def _query(query: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
    if "Expression" in query:
        shown["Expression"] = query["Expression"]
    if "Label" in query:
        shown["Label"] = query["Label"]
    if "MetricStat" in query:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        shown["MetricStat"] = {
            "Metric": {
                "Dimensions": [
                    {"value": d["Value"], "name": d["Name"]} for d in metric.get("Dimensions", [])
                ],
                "MetricName": metric["MetricName"],
                "Namespace": metric["Namespace"],
            },
            "Period": stat["Period"],
            "Stat": stat["Stat"],
        }
    return shown


def email_text(alarm: MetricAlarm, old_state: str, decision: Decision, at: datetime) -> str:
    """The readable notification CloudWatch mails to an email subscription."""
    when = f"{at:%A %d %B, %Y %H:%M:%S} UTC"
    described = alarm.described
    dimensions = ", ".join(f"{d['Name']} = {d['Value']}" for d in described.get("Dimensions", []))
    actions = {
        "OK": alarm.ok_actions,
        "ALARM": alarm.alarm_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }
    lines = [
        f'You are receiving this email because your Amazon CloudWatch Alarm "{alarm.name}" in'
        f" the {region_name()} region has entered the {decision.state} state, because"
        f' "{decision.reason}" at "{when}".',
        "",
        "Alarm Details:",
        f"- Name:                       {alarm.name}",
        f"- Description:                {alarm.description or ''}",
        f"- State Change:               {old_state} -> {decision.state}",
        f"- Reason for State Change:    {decision.reason}",
        f"- Timestamp:                  {when}",
        f"- AWS Account:                {ACCOUNT_ID}",
        f"- Alarm Arn:                  {alarm.arn}",
        "",
        "Threshold:",
        f"- The alarm is in the ALARM state when the metric is"
        f" {alarm.rule.comparison_operator} {alarm.rule.threshold} for at least"
        f" {alarm.rule.datapoints_to_alarm} of the last {alarm.rule.evaluation_periods}"
        f" period(s) of {alarm.period} seconds.",
        "",
        "Monitored Metric:",
        f"- MetricNamespace:                     {described.get('Namespace', '')}",
        f"- MetricName:                          {described.get('MetricName', '')}",
        f"- Dimensions:                          [{dimensions}]",
        f"- Period:                              {alarm.period} seconds",
        f"- Statistic:                           {alarm.statistic}",
        f"- Unit:                                {described.get('Unit') or 'not specified'}",
        f"- TreatMissingData:                    {alarm.rule.treat_missing_data}",
        "",
        "State Change Actions:",
        *(f"- {state}: {list(arns) if arns else ''}".rstrip() for state, arns in actions.items()),
    ]
    return "\n".join(lines)


def publish_arguments(
    alarm: MetricAlarm, old_state: str, decision: Decision, at: datetime
) -> dict[str, str]:
    """sns.publish(**these) for one topic of the alarm's actions."""
    document = json.dumps(message(alarm, old_state, decision, at))
    return {
        "Subject": subject(alarm, decision.state),
        "MessageStructure": "json",
        "Message": json.dumps(
            {"default": document, "email": email_text(alarm, old_state, decision, at)}
        ),
    }
