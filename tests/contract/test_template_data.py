"""Data kept (issue 7): no stack operation deletes a table, the user pool, the provider's
secret or the logs; every function and workflow logs into a group with a retention, and the
API keeps an access log that says who called what, never with their token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.template import loaded_template, raw_template

template = loaded_template()
STATEFUL = ("AWS::DynamoDB::Table", "AWS::Cognito::UserPool", "AWS::SecretsManager::Secret")
ACCESS_LOG_FIELDS = (
    "$context.requestId",
    "$context.authorizer.claims.sub",
    "$context.identity.sourceIp",
    "$context.resourcePath",
    "$context.status",
    "$context.responseLatency",
)


def of_types(*types: str) -> list[str]:
    return sorted(n for n, r in raw_template()["Resources"].items() if r["Type"] in types)


@pytest.mark.parametrize("name", of_types(*STATEFUL, "AWS::Logs::LogGroup"))
def test_stateful_resources_are_retained(name: str) -> None:
    resource = raw_template()["Resources"][name]
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def test_every_table_user_pool_and_secret_is_covered() -> None:
    assert len(of_types("AWS::DynamoDB::Table")) >= 8
    assert of_types("AWS::Cognito::UserPool") == ["UserPool"]
    assert "PaymentProviderApiKeySecret" in of_types("AWS::SecretsManager::Secret")


def log_group_of(reference: Any) -> dict[str, Any]:
    logical_id = reference["Ref"] if "Ref" in reference else reference["Fn::GetAtt"][0]
    resource = template.resources[logical_id]
    assert resource["Type"] == "AWS::Logs::LogGroup", logical_id
    return dict(resource["Properties"])


@pytest.mark.parametrize("name", [n for n, _ in template.of_type("AWS::Lambda::Function")])
def test_every_function_logs_into_a_group_with_a_retention(name: str) -> None:
    properties = dict(template.of_type("AWS::Lambda::Function"))[name]
    group = log_group_of(properties["LoggingConfig"]["LogGroup"])
    assert group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


@pytest.mark.parametrize(
    "name", [n for n, _ in template.of_type("AWS::StepFunctions::StateMachine")]
)
def test_every_workflow_logs_into_a_group_with_a_retention(name: str) -> None:
    properties = dict(template.of_type("AWS::StepFunctions::StateMachine"))[name]
    (destination,) = properties["LoggingConfiguration"]["Destinations"]
    group = log_group_of(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
    assert "RetentionInDays" in group


def test_the_api_keeps_an_access_log_without_the_token() -> None:
    (stage,) = [p for _, p in template.of_type("AWS::ApiGateway::Stage")]
    setting = stage["AccessLogSetting"]
    log_format = setting["Format"]
    for field in ACCESS_LOG_FIELDS:
        assert field in log_format, field
    assert "Authorization" not in log_format
    assert "$input" not in log_format  # no body, no header, no parameter
    assert "$context.identity.apiKey" not in log_format
    group = log_group_of(setting["DestinationArn"])
    assert group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
