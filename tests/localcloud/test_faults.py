"""The fault API: rules that fire as asked, counted, and AWS errors that SDKs read as AWS's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.endpoint.server import AwsEndpoint
from localcloud.faults.api import FaultRulesInvalid, parse_rules
from localcloud.faults.rules import FaultRegistry, FaultRule
from localcloud.spec import REGION


def rule(**fields: Any) -> FaultRule:
    return parse_rules(json.dumps([fields]))[0]


# ---------------------------------------------------------------- the registry


def test_a_rule_fires_only_for_its_service_operation_and_function() -> None:
    registry = FaultRegistry(
        [rule(service="lambda", function="ChargePaymentFunction", action="kill-after")]
    )

    assert registry.draw("lambda", "Invoke", function="ReserveStockFunction") is None
    assert registry.draw("dynamodb", "PutItem") is None
    fired = registry.draw("lambda", "Invoke", function="ChargePaymentFunction")

    assert fired is not None
    assert fired.kind == "lambda.kill-after"
    assert registry.counts() == {"lambda.kill-after": 1}


def test_a_limited_rule_fires_that_many_times_then_never() -> None:
    registry = FaultRegistry(
        [
            rule(
                service="dynamodb",
                operation="PutItem",
                error={"code": "ThrottlingException"},
                limit=2,
            )
        ]
    )

    fired = [registry.draw("dynamodb", "PutItem") for _ in range(5)]

    assert [f is not None for f in fired] == [True, True, False, False, False]
    assert registry.describe()["rules"][0]["fired"] == 2  # type: ignore[index]


def test_probabilities_are_honoured_and_a_seed_repeats_the_same_draws() -> None:
    rules = [rule(service="sqs", action="duplicate", probability=0.3)]

    def draws(seed: int) -> list[bool]:
        registry = FaultRegistry(rules, seed=seed)
        return [
            registry.draw("sqs", "ReceiveMessage", actions={"duplicate"}) is not None
            for _ in range(2000)
        ]

    first, again = draws(7), draws(7)

    assert first == again
    assert 0.25 < sum(first) / len(first) < 0.35
    assert (
        FaultRegistry([rule(service="sqs", action="duplicate", probability=0)]).draw("sqs") is None
    )


def test_a_draw_only_takes_the_actions_its_injection_point_can_apply() -> None:
    registry = FaultRegistry([rule(service="lambda", action="kill-before")])

    assert registry.draw("lambda", "Invoke", actions={"throttle"}) is None
    assert registry.draw("lambda", "Invoke", actions={"kill-before", "kill-after"}) is not None


def test_removing_rules_keeps_the_others_and_the_run_totals() -> None:
    keep = rule(service="events", action="duplicate")
    drop = rule(service="dynamodb", error={"code": "ThrottlingException"})
    registry = FaultRegistry([drop, keep])
    registry.draw("dynamodb", "GetItem")

    registry.remove([drop])

    assert registry.rules() == [keep]
    assert registry.counts() == {"dynamodb.error": 1}
    registry.remove(None)
    assert registry.rules() == []


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"service": "dynamodb", "action": "kill-after"}, "does not apply"),
        ({"service": "dynamodb", "action": "error"}, "needs `error`"),
        ({"service": "sqs", "action": "latency"}, "needs `latency`"),
        ({"service": "sqs", "function": "X", "action": "duplicate"}, "applies to service 'lambda'"),
        ({"service": "sqs", "action": "duplicate", "probability": 2}, "less than or equal to 1"),
        ({"service": "sqs", "action": "duplicate", "colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields: dict[str, Any], complaint: str) -> None:
    with pytest.raises(FaultRulesInvalid, match=complaint):
        parse_rules(json.dumps([fields]))


# ---------------------------------------------------------------- the endpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AwsEndpoint]:
    endpoint = AwsEndpoint(runtime=None, status=lambda: {"ready": True})
    endpoint.serve("127.0.0.1", 0)
    yield endpoint
    endpoint.close()


@pytest.fixture
def faults(endpoint: AwsEndpoint) -> Iterator[FaultRegistry]:
    yield endpoint.faults
    endpoint.faults.remove(None)


def client(endpoint: AwsEndpoint, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint.url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **LOCAL_CREDENTIALS,
    )


def api(endpoint: AwsEndpoint, method: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint.url}/_localcloud/faults", data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("service", "operation", "call", "code"),
    [
        (
            "dynamodb",
            "TransactWriteItems",
            lambda c: c.transact_write_items(
                TransactItems=[{"Put": {"TableName": "faults", "Item": {"pk": {"S": "a"}}}}]
            ),
            "TransactionConflictException",
        ),
        (
            "sqs",
            "SendMessage",
            lambda c: c.send_message(
                QueueUrl=c.create_queue(QueueName="faults")["QueueUrl"], MessageBody="x"
            ),
            "ThrottlingException",
        ),
        (
            "events",
            "PutEvents",
            lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]),
            "InternalException",
        ),
        (
            "stepfunctions",
            "ListStateMachines",
            lambda c: c.list_state_machines(),
            "ThrottlingException",
        ),
        (
            "ses",
            "SendEmail",
            lambda c: c.send_email(
                Source="a@example.com",
                Destination={"ToAddresses": ["b@example.com"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
            ),
            "Throttling",
        ),
    ],
)
def test_an_aws_error_rule_is_raised_by_the_sdk_as_that_error_once(
    *,
    endpoint: AwsEndpoint,
    faults: FaultRegistry,
    service: str,
    operation: str,
    call: Any,
    code: str,
) -> None:
    # Given one injected error for that operation
    sdk = client(endpoint, service)
    if service == "dynamodb":
        sdk.create_table(
            TableName="faults",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    status = 500 if code == "InternalException" else 400
    faults.replace(
        [
            rule(
                service=service,
                operation=operation,
                error={"statusCode": status, "code": code},
                limit=1,
            )
        ]
    )

    # When it is called
    with pytest.raises(ClientError) as raised:
        call(sdk)

    # Then the SDK raised AWS's error code, the fault is counted, and the next call goes through
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert faults.counts()[f"{service}.error"] >= 1
    if service != "ses":  # moto's SES refuses an unverified sender; the point was the error
        call(sdk)
    if service == "dynamodb":
        sdk.delete_table(TableName="faults")


def test_a_duplicated_put_events_reaches_the_target_twice(
    endpoint: AwsEndpoint, faults: FaultRegistry
) -> None:
    # Given a rule routing to a queue, and PutEvents duplicated once
    events, sqs = client(endpoint, "events"), client(endpoint, "sqs")
    queue_url = sqs.create_queue(QueueName="duplicates")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="dup", EventPattern=json.dumps({"source": ["shop.test"]}))
    events.put_targets(Rule="dup", Targets=[{"Id": "q", "Arn": queue_arn}])
    faults.replace([rule(service="events", operation="PutEvents", action="duplicate", limit=1)])

    # When one event is put
    events.put_events(
        Entries=[{"Source": "shop.test", "DetailType": "Happened", "Detail": '{"n": 1}'}]
    )

    # Then the queue holds it twice, with the same detail
    bodies = []
    for _ in range(3):
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        bodies += [json.loads(m["Body"])["detail"] for m in received]
    assert bodies == [{"n": 1}, {"n": 1}]
    assert faults.counts()["events.duplicate"] == 1


def test_the_faults_api_sets_reads_and_clears_rules(
    endpoint: AwsEndpoint, faults: FaultRegistry
) -> None:
    throttle = {
        "service": "dynamodb",
        "operation": "Query",
        "error": {"statusCode": 400, "code": "ThrottlingException"},
    }

    status, body = api(endpoint, "POST", [throttle])
    assert status == 200
    assert [r["service"] for r in body["rules"]] == ["dynamodb"]

    status, body = api(
        endpoint, "PATCH", [{"service": "sqs", "action": "duplicate", "probability": 0.1}]
    )
    assert [r["service"] for r in body["rules"]] == ["dynamodb", "sqs"]

    status, body = api(endpoint, "DELETE", [throttle])
    assert [r["service"] for r in body["rules"]] == ["sqs"]

    status, body = api(endpoint, "POST", [{"service": "dynamodb", "action": "kill-after"}])
    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert "does not apply" in body["message"]

    status, body = api(endpoint, "DELETE")
    assert (status, body["rules"]) == (200, [])
