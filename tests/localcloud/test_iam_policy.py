"""localcloud's IAM evaluation, without starting localcloud: policies as SAM expands them,
requests as the endpoint derives them from AWS calls, roles as the template declares them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloudformation.template import Template
from localcloud.endpoint.calls import rest_operation
from localcloud.iam.account import IamAccount
from localcloud.iam.enforcer import Authorizer
from localcloud.iam.policy import (
    Decision,
    Policy,
    PolicyError,
    Principal,
    Request,
    arn_match,
    evaluate,
    glob_match,
)
from localcloud.iam.requests import function_arn, lambda_requests, requests_for
from localcloud.iam.roles import Credentials, Role, Roles, aws_managed_policy
from localcloud.iam.service_roles import queue_policy_allows

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/OrdersTable"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:NotificationsQueue"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/shop-bus/NotificationsRule"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy.parse("test", {"Version": "2012-10-17", "Statement": list(statements)})


def decide(p: Policy, action: str, resource: str, **context: list[str]) -> Decision:
    return evaluate([p], Request(action, resource, context))


CRUD_ON_ORDERS = policy(  # DynamoDBCrudPolicy, as aws-sam-translator expands it
    {
        "Effect": "Allow",
        "Action": [
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
            "dynamodb:ConditionCheckItem",
        ],
        "Resource": [TABLE, f"{TABLE}/index/*"],
    }
)


# ---------------------------------------------------------------- actions and resources
def test_an_allowed_action_on_its_resource_is_allowed_and_anything_else_implicitly_denied() -> None:
    assert decide(CRUD_ON_ORDERS, "dynamodb:PutItem", TABLE) is Decision.ALLOWED
    assert decide(CRUD_ON_ORDERS, "dynamodb:Query", f"{TABLE}/index/ByCustomer") is (
        Decision.ALLOWED
    )
    other_table = TABLE.replace("OrdersTable", "PaymentsTable")
    assert decide(CRUD_ON_ORDERS, "dynamodb:PutItem", other_table) is Decision.IMPLICIT_DENY
    assert decide(CRUD_ON_ORDERS, "dynamodb:DeleteTable", TABLE) is Decision.IMPLICIT_DENY
    # A stream is its own resource: CRUD on the table does not read its stream.
    stream = f"{TABLE}/stream/2026-12-01T00:00:00.000"
    assert decide(CRUD_ON_ORDERS, "dynamodb:GetRecords", stream) is Decision.IMPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards_and_resources_case_sensitively() -> None:
    p = policy({"Effect": "Allow", "Action": "SQS:Send*", "Resource": QUEUE})

    assert decide(p, "sqs:SendMessage", QUEUE) is Decision.ALLOWED
    assert decide(p, "sqs:sendmessagebatch", QUEUE) is Decision.ALLOWED
    assert decide(p, "sqs:ReceiveMessage", QUEUE) is Decision.IMPLICIT_DENY
    assert decide(p, "sqs:SendMessage", QUEUE.lower()) is Decision.IMPLICIT_DENY


def test_lambda_invoke_policy_covers_the_function_and_its_qualifiers_only() -> None:
    # LambdaInvokePolicy: function:${functionName}*
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ChargePaymentFunction"
    p = policy({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": f"{arn}*"})

    assert decide(p, "lambda:InvokeFunction", arn) is Decision.ALLOWED
    assert decide(p, "lambda:InvokeFunction", f"{arn}:live") is Decision.ALLOWED
    refund = arn.replace("ChargePayment", "RefundPayment")
    assert decide(p, "lambda:InvokeFunction", refund) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow() -> None:
    p = policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )

    assert decide(p, "dynamodb:PutItem", TABLE) is Decision.ALLOWED
    assert decide(p, "dynamodb:DeleteItem", TABLE) is Decision.EXPLICIT_DENY


def test_not_action_and_not_resource_match_everything_else() -> None:
    p = policy(
        {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": TABLE},
        {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [TABLE, f"{TABLE}/*"]},
    )

    assert decide(p, "dynamodb:PutItem", TABLE) is Decision.ALLOWED
    assert decide(p, "dynamodb:DeleteItem", TABLE) is Decision.IMPLICIT_DENY
    other = TABLE.replace("Orders", "Payments")
    assert decide(p, "dynamodb:GetItem", other) is Decision.EXPLICIT_DENY


def test_an_action_without_resource_level_permissions_needs_a_star() -> None:
    xray = aws_managed_policy("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")

    assert decide(xray, "xray:PutTraceSegments", "*") is Decision.ALLOWED
    assert decide(CRUD_ON_ORDERS, "dynamodb:ListTables", "*") is Decision.IMPLICIT_DENY


def test_aws_managed_policies_are_their_real_documents() -> None:
    sqs = aws_managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    streams = aws_managed_policy(
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    )

    assert decide(sqs, "sqs:ReceiveMessage", QUEUE) is Decision.ALLOWED
    assert decide(sqs, "sqs:DeleteMessage", QUEUE) is Decision.ALLOWED
    assert decide(sqs, "sqs:SendMessage", QUEUE) is Decision.IMPLICIT_DENY
    assert decide(streams, "dynamodb:GetRecords", f"{TABLE}/stream/x") is Decision.ALLOWED
    assert decide(streams, "dynamodb:PutItem", TABLE) is Decision.IMPLICIT_DENY
    with pytest.raises(LookupError):  # the path is part of the name
        aws_managed_policy("arn:aws:iam::aws:policy/AWSLambdaSQSQueueExecutionRole")


# ---------------------------------------------------------------- conditions
BREAKER_ONLY = policy(  # GetOrderDetails: it may write its breakers' items, nothing else
    {
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": TABLE,
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["BREAKER#*"]}},
    }
)


def test_for_all_values_string_like_on_leading_keys() -> None:
    assert (
        decide(
            BREAKER_ONLY,
            "dynamodb:PutItem",
            TABLE,
            **{"dynamodb:LeadingKeys": ["BREAKER#payments"]},
        )
        is Decision.ALLOWED
    )
    assert (
        decide(BREAKER_ONLY, "dynamodb:PutItem", TABLE, **{"dynamodb:LeadingKeys": ["ORDER#1"]})
        is Decision.IMPLICIT_DENY
    )
    assert (
        decide(
            BREAKER_ONLY,
            "dynamodb:PutItem",
            TABLE,
            **{"dynamodb:LeadingKeys": ["BREAKER#payments", "ORDER#1"]},
        )
        is Decision.IMPLICIT_DENY
    )


def test_a_condition_that_fails_on_an_allow_is_no_grant_and_not_a_deny() -> None:
    p = policy(
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
        {  # the same grant again, with a condition that fails
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": TABLE,
            "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}},
        },
    )

    assert decide(p, "dynamodb:PutItem", TABLE) is Decision.ALLOWED


@pytest.mark.parametrize(
    ("operator", "expected", "values", "matches"),
    [
        ("StringEquals", ["a"], ["a"], True),
        ("StringEquals", ["a"], None, False),
        ("StringNotEquals", ["a"], ["b"], True),
        ("StringNotEquals", ["a"], None, True),  # a negated operator holds when the key is absent
        ("StringEqualsIgnoreCase", ["ABC"], ["abc"], True),
        ("StringLike", ["ord?r-*"], ["order-1"], True),
        ("StringLike", ["order.*"], ["orderX1"], False),  # '.' is no regex wildcard
        ("StringNotLike", ["tmp/*"], ["tmp/x"], False),
        ("StringEqualsIfExists", ["a"], None, True),
        ("StringEqualsIfExists", ["a"], ["b"], False),
        ("NumericLessThan", ["10"], ["9"], True),
        ("NumericGreaterThanEquals", ["10"], ["9"], False),
        ("DateGreaterThan", ["2026-01-01T00:00:00Z"], ["2026-06-01T00:00:00Z"], True),
        ("Bool", ["true"], ["True"], True),
        ("Null", ["true"], None, True),
        ("Null", ["false"], None, False),
        ("IpAddress", ["127.0.0.0/8"], ["127.0.0.1"], True),
        ("ArnEquals", [RULE], [RULE], True),
        ("ArnLike", ["arn:aws:events:*:*:rule/shop-bus/*"], [RULE], True),
        ("ArnNotEquals", [RULE], [RULE.replace("Notifications", "Shipping")], True),
        ("ForAnyValue:StringEquals", ["b"], ["a", "b"], True),
        ("ForAnyValue:StringEquals", ["b"], None, False),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a"], ["a", "b"], False),
        ("ForAllValues:StringEquals", ["a"], None, True),  # vacuously, as AWS warns
    ],
)
def test_condition_operators(
    operator: str, expected: list[str], values: list[str] | None, matches: bool
) -> None:
    p = policy(
        {
            "Effect": "Allow",
            "Action": "s:Do",
            "Resource": "*",
            "Condition": {operator: {"k": expected}},
        }
    )
    context = {} if values is None else {"K": values}  # condition keys ignore case

    assert (decide(p, "s:Do", "*", **context) is Decision.ALLOWED) is matches


def test_an_operator_localcloud_does_not_know_is_refused_at_load() -> None:
    with pytest.raises(PolicyError, match="StringSoundsLike"):
        policy(
            {
                "Effect": "Allow",
                "Action": "s:Do",
                "Resource": "*",
                "Condition": {"StringSoundsLike": {"k": "v"}},
            }
        )


def test_wildcards_and_arn_parts() -> None:
    assert glob_match("a*c?", "abbbcd")
    assert not glob_match("a*c?", "abbbc")
    assert arn_match("arn:aws:sqs:*:123456789012:Q*", QUEUE.replace("NotificationsQueue", "Q1"))
    assert not arn_match("arn:aws:sqs:*:123456789012:Q", QUEUE)


# ---------------------------------------------------------------- resource policies
QUEUE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
            "Condition": {"ArnEquals": {"aws:SourceArn": RULE}},
        }
    ],
}


def test_a_queue_policy_lets_eventbridge_send_for_its_rule_only() -> None:
    import json

    text = json.dumps(QUEUE_POLICY)
    other_rule = RULE.replace("NotificationsRule", "ShippingRule")

    assert queue_policy_allows(text, QUEUE, RULE) is Decision.ALLOWED
    assert queue_policy_allows(text, QUEUE, other_rule) is Decision.IMPLICIT_DENY
    assert queue_policy_allows(None, QUEUE, RULE) is Decision.IMPLICIT_DENY


def test_a_resource_policy_statement_names_its_principal() -> None:
    p = Policy.parse("queue", QUEUE_POLICY)
    role = Principal("AWS", f"arn:aws:iam::{ACCOUNT}:role/SomeRole", ACCOUNT)
    context = {"aws:SourceArn": [RULE]}

    assert evaluate([p], Request("sqs:SendMessage", QUEUE, context, role)) is (
        Decision.IMPLICIT_DENY
    )
    account_wide = Policy.parse(
        "queue",
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:*"}]},
    )
    assert evaluate([account_wide], Request("sqs:SendMessage", QUEUE, {}, role)) is (
        Decision.ALLOWED
    )


# ---------------------------------------------------------------- requests from AWS calls
def test_a_transaction_is_each_items_own_action_on_its_table() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "OrdersTable", "Item": {"pk": {"S": "ORDER#1"}}}},
            {"Update": {"TableName": "InventoryTable", "Key": {"pk": {"S": "SKU#1"}}}},
            {"ConditionCheck": {"TableName": "OrdersTable", "Key": {"pk": {"S": "ORDER#1"}}}},
        ]
    }

    requests = list(requests_for("dynamodb", "TransactWriteItems", params))

    assert [(r.action, r.resource.rsplit("/", 1)[1]) for r in requests] == [
        ("dynamodb:PutItem", "OrdersTable"),
        ("dynamodb:UpdateItem", "InventoryTable"),
        ("dynamodb:ConditionCheckItem", "OrdersTable"),
    ]


def test_a_query_on_an_index_is_on_the_index_resource() -> None:
    (request,) = requests_for(
        "dynamodb", "Query", {"TableName": "OrderSummariesTable", "IndexName": "ByCustomer"}
    )

    assert request.action == "dynamodb:Query"
    assert request.resource.endswith(":table/OrderSummariesTable/index/ByCustomer")


def test_sqs_batch_operations_are_their_single_actions_on_the_queue_of_the_url() -> None:
    url = f"http://127.0.0.1:4566/{ACCOUNT}/NotificationsQueue"

    (send,) = requests_for("sqs", "SendMessageBatch", {"QueueUrl": url})
    (delete,) = requests_for("sqs", "DeleteMessageBatch", {"QueueUrl": url})

    assert (send.action, send.resource) == ("sqs:SendMessage", QUEUE)
    assert (delete.action, delete.resource) == ("sqs:DeleteMessage", QUEUE)


def test_put_events_is_on_each_bus_named_and_the_default_bus_otherwise() -> None:
    requests = list(
        requests_for(
            "events",
            "PutEvents",
            {"Entries": [{"EventBusName": "shop-bus"}, {"Source": "x"}]},
        )
    )

    assert sorted(r.resource.rsplit(":", 1)[1] for r in requests) == [
        "event-bus/default",
        "event-bus/shop-bus",
    ]


def test_step_functions_and_lambda_and_ses_resources() -> None:
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:OrderSaga"
    (start,) = requests_for("stepfunctions", "StartExecution", {"stateMachineArn": machine})
    (invoke,) = lambda_requests(
        "Invoke", "/2015-03-31/functions/ChargePaymentFunction/invocations", ""
    )
    (email,) = requests_for("email", "SendEmail", {"Source": "Shop <orders@shop.example.com>"})

    assert (start.action, start.resource) == ("states:StartExecution", machine)
    assert (invoke.action, invoke.resource) == (
        "lambda:InvokeFunction",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ChargePaymentFunction",
    )
    assert email.resource == f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/orders@shop.example.com"
    assert function_arn(f"{ACCOUNT}:function:F", "live").endswith(":function:F:live")


# ---------------------------------------------------------------- roles
def test_a_role_is_assumable_only_by_the_services_its_trust_policy_names() -> None:
    trust = Policy.parse(
        "trust",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com"]},
                    "Action": ["sts:AssumeRole"],
                }
            ]
        },
    )
    role = Role("ChargePaymentFunctionRole", (), Credentials.new(), trust)

    assert role.trusts("lambda.amazonaws.com")
    assert not role.trusts("states.amazonaws.com")
    assert not Role("NoTrust", (), Credentials.new()).trusts("lambda.amazonaws.com")


def test_each_role_gets_its_own_credentials() -> None:
    first, second = Credentials.new(), Credentials.new()

    assert first.access_key_id.startswith("ASIA")
    assert len({first.access_key_id, second.access_key_id}) == 2
    assert first.session_token != second.session_token
    assert set(first.environment()) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }


SMALL_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: writer.handler
      CodeUri: src/
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: reader.handler
      CodeUri: src/
      Policies:
        - DynamoDBReadPolicy: {TableName: !Ref Table}
"""


def test_roles_come_from_the_translated_template_with_sam_policies_expanded(
    tmp_path: Path,
) -> None:
    # Given a template whose two functions have SAM policy templates on one table
    (tmp_path / "template.yaml").write_text(SMALL_TEMPLATE)
    template = Template.load(tmp_path / "template.yaml")
    template.register_function_identities()
    template.refs["Table"] = "Table"  # what provisioning learns

    # When localcloud builds the account's IAM
    iam = IamAccount(template)

    # Then each function has its own role with its own credentials in its environment
    writer, reader = iam.function_role("Writer"), iam.function_role("Reader")
    assert (writer.name, reader.name) == ("WriterRole", "ReaderRole")
    assert writer.credentials != reader.credentials
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Table"
    assert iam.allows(writer.arn, "dynamodb:PutItem", table)
    assert not iam.allows(reader.arn, "dynamodb:PutItem", table)
    assert iam.allows(reader.arn, "dynamodb:GetItem", table)
    # AWSLambdaBasicExecutionRole (SAM adds it) lets both write their logs
    assert iam.allows(reader.arn, "logs:PutLogEvents", "*")
    assert not iam.allows(f"arn:aws:iam::{ACCOUNT}:role/Nobody", "dynamodb:GetItem", table)


def test_a_rest_call_is_named_by_botocores_own_routes() -> None:
    assert rest_operation("xray", "POST", "/TraceSegments") == "PutTraceSegments"
    assert rest_operation("lambda", "GET", "/2015-03-31/functions/F/configuration") == (
        "GetFunctionConfiguration"
    )
    get_function = rest_operation("lambda", "GET", "/2015-03-31/functions/F")
    (get,) = lambda_requests(get_function, "/2015-03-31/functions/F", "Qualifier=live")
    assert (get.action, get.resource) == (
        "lambda:GetFunction",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:F:live",
    )
    # An operation localcloud can't name is asked as a wildcard only a wildcard grant allows.
    (unknown,) = requests_for("xray", None, {})
    xray = aws_managed_policy("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")
    assert decide(xray, unknown.action, unknown.resource) is Decision.IMPLICIT_DENY


# ---------------------------------------------------------------- the endpoint's gate
def _environ(
    target: str | None = None,
    *,
    body: bytes = b"",
    key: str | None = None,
    token: str | None = None,
    path: str = "/",
    query: str = "",
    content_type: str = "application/x-amz-json-1.0",
) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    if key:
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={key}/20261201/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00"
        )
    if token:
        headers["X-Amz-Security-Token"] = token
    builder = EnvironBuilder(
        path=path, method="POST", data=body, headers=list(headers.items()), query_string=query
    )
    return builder.get_environ()


def _gate() -> tuple[Authorizer, Role]:
    role = Role("WriterRole", (CRUD_ON_ORDERS,), Credentials.new())
    return Authorizer(Roles({"WriterRole": role})), role


def test_the_gate_lets_the_admin_and_an_allowed_role_through() -> None:
    gate, role = _gate()
    put = json.dumps({"TableName": "OrdersTable", "Item": {"pk": {"S": "ORDER#1"}}}).encode()
    c = role.credentials

    assert gate.check(_environ("DynamoDB_20120810.PutItem", body=put, key="localcloud")) is None
    assert (
        gate.check(
            _environ(
                "DynamoDB_20120810.PutItem", body=put, key=c.access_key_id, token=c.session_token
            )
        )
        is None
    )


def test_the_gate_refuses_as_the_service_would() -> None:
    gate, role = _gate()
    c = role.credentials
    put_elsewhere = json.dumps({"TableName": "PaymentsTable", "Item": {}}).encode()

    denied = gate.check(
        _environ(
            "DynamoDB_20120810.PutItem",
            body=put_elsewhere,
            key=c.access_key_id,
            token=c.session_token,
        )
    )
    forged = gate.check(
        _environ("DynamoDB_20120810.GetItem", body=b"{}", key=c.access_key_id, token="x")
    )
    unsigned = gate.check(_environ("DynamoDB_20120810.GetItem", body=b"{}"))
    unsigned_query = gate.check(
        _environ(body=b"Action=SendEmail", content_type="application/x-www-form-urlencoded")
    )

    assert denied is not None
    assert denied.status_code == 400
    body = json.loads(denied.get_data())
    assert body["__type"].endswith("#AccessDeniedException")
    assert "WriterRole" in body["message"]
    assert "dynamodb:PutItem on resource: arn:aws:dynamodb:" in body["message"]
    assert forged is not None
    assert json.loads(forged.get_data())["__type"].endswith("UnrecognizedClientException")
    assert unsigned is not None
    assert unsigned_query is not None
    assert unsigned_query.status_code == 403
    assert gate.refusals == 1
    # a public, unsigned GET that is no AWS API call (Cognito's JWKS) goes on
    jwks = _environ(path="/us-east-1_x/.well-known/jwks.json", content_type="application/json")
    assert gate.check(jwks) is None
