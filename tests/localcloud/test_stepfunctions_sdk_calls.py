"""Step Functions tasks' AWS calls without botocore's client: the same request reaches the
endpoint, and the interpreter gets what the boto3 call returned or raised.

Each case sends one call both ways (boto3's client, as moto's interpreter made it before,
answered in-process by localcloud.endpoint.inprocess; and localcloud.stepfunctions'
lambda_invoke or sdk_calls) to the same WSGI app, which records what it was sent and answers
as the endpoint does: a Lambda Invoke's success, function error, throttle and denial; a
DynamoDB task's PutItem answer and its conditional check failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.endpoint.inprocess import (
    answer_in_process,
    serve_in_process,
    served_app,
    stop_serving_in_process,
)
from localcloud.stepfunctions import tracing
from localcloud.stepfunctions.lambda_errors import task_error
from localcloud.stepfunctions.lambda_invoke import invoke
from localcloud.stepfunctions.sdk_calls import json_call

PORT = 45999  # only a key of the in-process registry: nothing listens on it
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/SagaRole"
CREDENTIALS = {
    "aws_access_key_id": "AKIDSAGA",
    "aws_secret_access_key": "s",
    "aws_session_token": "T",
}
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:ChargePayment"


@dataclass
class Endpoint:
    """Answers every request with `answer` and records what each request carried."""

    answer: tuple[int, list[tuple[str, str]], bytes] = (200, [], b"{}")
    seen: list[dict[str, Any]] = field(default_factory=list)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.seen.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": unquote(environ["PATH_INFO"]),
                "query": environ.get("QUERY_STRING", ""),
                "body": environ["wsgi.input"].read(length) if length else b"",
                # the key, region and service (the endpoint reads no signature, nor the date)
                "credential": _scope(environ["HTTP_AUTHORIZATION"]),
                **{
                    name: environ.get(name)
                    for name in (
                        "HTTP_X_AMZ_SECURITY_TOKEN",
                        "HTTP_X_AMZ_INVOCATION_TYPE",
                        "HTTP_X_AMZ_LOG_TYPE",
                        "HTTP_X_AMZ_CLIENT_CONTEXT",
                        "HTTP_X_AMZN_TRACE_ID",
                        "HTTP_X_AMZ_TARGET",
                        "CONTENT_TYPE",
                    )
                },
            }
        )
        status, headers, body = self.answer
        start_response(f"{status} X", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _scope(authorization: str) -> str:
    key, _date, region, service, _ = (
        authorization.split("Credential=")[1].split(",", 1)[0].split("/")
    )
    return f"{key}/{region}/{service}"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    app = Endpoint()
    monkeypatch.setattr(
        "localcloud.stepfunctions.sdk_calls.state_machine_credentials",
        lambda role_arn: CREDENTIALS if role_arn == ROLE_ARN else {},
    )
    serve_in_process(PORT, app)
    yield app
    stop_serving_in_process(PORT)


def boto3_client(service: Any) -> Any:
    """As moto's interpreter made it: a kept client signed with the role, one attempt."""
    client = boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=f"http://localhost:{PORT}",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        aws_session_token=CREDENTIALS["aws_session_token"],
    )
    return answer_in_process(client)


def boto3_invoke(parameters: dict[str, Any], trace_header: str | None = None) -> dict[str, Any]:
    client = boto3_client("lambda")
    if trace_header:
        client.meta.events.register(
            "before-call.lambda.Invoke",
            lambda params, **_: params["headers"].__setitem__("X-Amzn-Trace-Id", trace_header),
        )
    return dict(client.invoke(**parameters))


def lean_invoke(parameters: dict[str, Any], trace_header: str | None = None) -> dict[str, Any]:
    """As localcloud.stepfunctions.lambda_invoke's task Invoke calls it, inside a traced task."""
    tracing._local.invoke_header = trace_header
    try:
        return invoke(served_app(PORT), PORT, REGION, ROLE_ARN, parameters)
    finally:
        tracing._local.invoke_header = None


def without_headers(response: Any) -> dict[str, Any]:
    """An error's response but its HTTP headers (the two in-process hops differ in these)."""
    metadata = {k: v for k, v in response["ResponseMetadata"].items() if k != "HTTPHeaders"}
    return {**response, "ResponseMetadata": metadata}


def both_ways(
    endpoint: Endpoint, parameters: dict[str, Any], trace_header: str | None = None
) -> tuple[Any, Any]:
    """(boto3's, the lean path's) answer or exception; each also read its Payload."""
    answers: list[Any] = []
    for call in (boto3_invoke, lean_invoke):
        try:
            answer = call(dict(parameters), trace_header)
        except ClientError as error:
            answers.append(error)
            continue
        answer["Payload"] = answer["Payload"].read()
        answer["ResponseMetadata"].pop("HTTPHeaders")  # the in-process hops differ in these
        answers.append(answer)
    assert endpoint.seen[0] == endpoint.seen[1], "the endpoint was sent something else"
    return answers[0], answers[1]


def test_a_task_invoke_is_sent_as_the_sdk_sends_it_and_answered_as_boto3_answers(
    endpoint: Endpoint,
) -> None:
    # Given an endpoint answering a function's result
    endpoint.answer = (200, [("X-Amz-Executed-Version", "$LATEST")], b'{"charged": true}')

    # When a task invokes it with every parameter Invoke's integration passes
    sdk, lean = both_ways(
        endpoint,
        {
            "FunctionName": FUNCTION,
            "Payload": b'{"orderId": "o-1"}',
            "Qualifier": "live",
            "InvocationType": "RequestResponse",
            "LogType": "None",
            "ClientContext": "e30=",
        },
        trace_header="Root=1-5f00a000-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    )

    # Then the endpoint saw the same request from both (the role's key and token, the trace)
    seen = endpoint.seen[1]
    assert seen["path"] == f"/2015-03-31/functions/{FUNCTION}/invocations"
    assert seen["query"] == "Qualifier=live"
    assert seen["credential"] == "AKIDSAGA/us-east-1/lambda"
    assert seen["HTTP_X_AMZ_SECURITY_TOKEN"] == "T"
    assert seen["HTTP_X_AMZN_TRACE_ID"].startswith("Root=1-5f00a000-")
    # and the task got what boto3 returned
    assert lean == sdk
    assert lean["Payload"] == b'{"charged": true}'
    assert lean["StatusCode"] == 200


def test_a_function_error_reaches_the_task_as_boto3_returned_it(endpoint: Endpoint) -> None:
    # Given a function that failed
    error = {"errorType": "PaymentDeclined", "errorMessage": "card declined"}
    endpoint.answer = (
        200,
        [("X-Amz-Executed-Version", "$LATEST"), ("X-Amz-Function-Error", "Unhandled")],
        json.dumps(error).encode(),
    )

    # When a task invokes it
    sdk, lean = both_ways(endpoint, {"FunctionName": FUNCTION, "Payload": b"{}"})

    # Then the task sees FunctionError and the error payload, as from boto3
    assert lean == sdk
    assert lean["FunctionError"] == "Unhandled"


@pytest.mark.parametrize(
    ("status", "code", "body", "task_error_name"),
    [
        (
            429,
            "TooManyRequestsException",
            {
                "Type": "User",
                "Message": "Rate Exceeded.",
                "Reason": "ConcurrentInvocationLimitExceeded",
            },
            "Lambda.TooManyRequestsException",
        ),
        (
            403,
            "AccessDeniedException",
            {
                "Type": "User",
                "Message": "SagaRole is not authorized to perform lambda:InvokeFunction",
            },
            "Lambda.AWSLambdaException",
        ),
        (
            404,
            "ResourceNotFoundException",
            {"Type": "User", "Message": "Function not found"},
            "Lambda.ResourceNotFoundException",
        ),
    ],
)
def test_lambdas_refusal_is_raised_as_boto3_raised_it(
    endpoint: Endpoint, status: int, code: str, body: dict[str, str], task_error_name: str
) -> None:
    # Given an endpoint refusing the Invoke
    endpoint.answer = (
        status,
        [
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", "req-1"),
            ("Content-Type", "application/json"),
        ],
        json.dumps(body).encode(),
    )

    # When a task invokes the function
    sdk, lean = both_ways(endpoint, {"FunctionName": FUNCTION, "Payload": b"{}"})

    # Then the same exception class, with the same response, reaches the task
    assert isinstance(lean, ClientError)
    assert type(lean).__name__ == type(sdk).__name__
    assert str(lean) == str(sdk)
    assert without_headers(lean.response) == without_headers(sdk.response)
    # and Step Functions names it as AWS does
    assert task_error(lean)[0] == task_error_name


# ---------------------------------------------------------------- DynamoDB tasks
CLAIM = {
    "TableName": "OrdersTable",
    "Item": {"pk": {"S": "WORKFLOW#o-1"}, "sk": {"S": "SAGA"}, "blob": {"B": "aGk="}},
    "ConditionExpression": "attribute_not_exists(pk) OR executionId = :execution",
    "ExpressionAttributeValues": {":execution": {"S": "arn:exec"}},
    "ReturnValues": "ALL_OLD",
}


def dynamodb_both_ways(endpoint: Endpoint) -> tuple[Any, Any]:
    answers: list[Any] = []
    for call in (
        lambda: boto3_client("dynamodb").put_item(**CLAIM),
        lambda: json_call(
            served_app(PORT),
            PORT,
            REGION,
            ROLE_ARN,
            service="dynamodb",
            operation="PutItem",
            params=CLAIM,
        ),
    ):
        try:
            answers.append(without_headers(call()))
        except ClientError as error:
            answers.append(error)
    assert endpoint.seen[0] == endpoint.seen[1], "the endpoint was sent something else"
    return answers[0], answers[1]


def test_a_dynamodb_task_call_is_sent_and_answered_as_boto3s(endpoint: Endpoint) -> None:
    # Given an endpoint answering PutItem with the old item (a binary attribute in it)
    endpoint.answer = (
        200,
        [("x-amzn-RequestId", "req-2"), ("Content-Type", "application/x-amz-json-1.0")],
        json.dumps({"Attributes": {"pk": {"S": "WORKFLOW#o-1"}, "blob": {"B": "aGk="}}}).encode(),
    )

    # When a task puts the item both ways
    sdk, lean = dynamodb_both_ways(endpoint)

    # Then the same request reached the endpoint, as the role, and the same answer came back
    seen = endpoint.seen[1]
    assert seen["HTTP_X_AMZ_TARGET"] == "DynamoDB_20120810.PutItem"
    assert seen["credential"] == "AKIDSAGA/us-east-1/dynamodb"
    assert lean == sdk
    assert lean["Attributes"]["blob"] == {"B": b"hi"}


def test_a_failed_condition_is_raised_as_boto3_raised_it(endpoint: Endpoint) -> None:
    # Given an endpoint refusing the conditional put
    endpoint.answer = (
        400,
        [("x-amzn-RequestId", "req-3"), ("Content-Type", "application/x-amz-json-1.0")],
        json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "message": "The conditional request failed",
            }
        ).encode(),
    )

    # When a task puts the item both ways
    sdk, lean = dynamodb_both_ways(endpoint)

    # Then the same exception, with the same response, reaches the task (which Step Functions
    # names DynamoDB.ConditionalCheckFailedException from its code and request id)
    assert type(lean).__name__ == type(sdk).__name__ == "ConditionalCheckFailedException"
    assert str(lean) == str(sdk)
    assert without_headers(lean.response) == without_headers(sdk.response)
    assert lean.response["ResponseMetadata"]["RequestId"] == "req-3"
