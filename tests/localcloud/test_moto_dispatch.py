"""moto's views answered without Flask (localcloud.endpoint.dispatch) give what moto's Flask
apps give: the same status, content type and body, for answers and for moto's errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import EnvironBuilder, run_wsgi_app

from localcloud.endpoint import dispatch

CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20261201/us-east-1/{service}/aws4_request"
TABLE = f"Dispatched-{uuid.uuid4().hex[:8]}"


Call = Callable[[], dict[str, Any]]  # a fresh WSGI environ each time (its body is a stream)


def environ(service: str, target: str, body: dict[str, Any], version: str) -> Call:
    return lambda: EnvironBuilder(
        method="POST",
        base_url="http://127.0.0.1:4566",
        path="/",
        headers=[
            ("X-Amz-Target", target),
            ("Content-Type", f"application/x-amz-json-{version}"),
            (
                "Authorization",
                f"AWS4-HMAC-SHA256 Credential={CREDENTIAL.format(service=service)}, "
                "SignedHeaders=host;x-amz-target, Signature=0",
            ),
        ],
        data=json.dumps(body),
    ).get_environ()


def dynamodb(operation: str, body: dict[str, Any]) -> Call:
    return environ("dynamodb", f"DynamoDB_20120810.{operation}", body, "1.0")


CREATE = dynamodb(
    "CreateTable",
    {
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    },
)
PUT = dynamodb("PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}})
CALLS = {  # each answered the same however often it is made
    "put the same item": PUT,
    "get it": dynamodb("GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "a"}}}),
    "query it": dynamodb(
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :a",
            "ExpressionAttributeValues": {":a": {"S": "a"}},
        },
    ),
    "a missing table (moto's error)": dynamodb("DescribeTable", {"TableName": "NoSuchTable"}),
    "a key not of the schema (moto's error)": dynamodb(
        "GetItem", {"TableName": TABLE, "Key": {"nope": {"S": "a"}}}
    ),
    "list queues (SQS, JSON)": environ("sqs", "AmazonSQS.ListQueues", {}, "1.0"),
    "an unknown queue (SQS's error)": environ(
        "sqs", "AmazonSQS.GetQueueUrl", {"QueueName": "no-such-queue"}, "1.0"
    ),
}


def answered(app: Any, call: Call) -> tuple[str, str | None, Any]:
    body, status, headers = run_wsgi_app(app, call(), buffered=True)
    content = b"".join(body)
    return status, headers.get("Content-Type"), json.loads(content) if content else None


@pytest.fixture(scope="module")
def dispatcher() -> DomainDispatcherApplication:
    """moto's dispatcher, with a table holding one item (made through Flask)."""
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for call in (CREATE, PUT):
        status, _, _ = answered(dispatcher.get_application(call()), call)
        assert status.startswith("200")
    return dispatcher


@pytest.mark.parametrize("name", list(CALLS))
def test_an_answer_without_flask_is_flasks_answer(
    dispatcher: DomainDispatcherApplication, name: str
) -> None:
    # Given moto's app for a call
    call = CALLS[name]
    app = dispatcher.get_application(call())

    def without_flask(env: dict[str, Any], start_response: Any) -> Any:
        return dispatch.answer(app, env, start_response)

    # When it is answered through Flask and without it
    with_flask = answered(app, call)
    # Then both answers are the same: moto's, an answer or its error
    assert answered(without_flask, call) == with_flask
    assert with_flask[0].startswith("400" if "error" in name else "200")


def test_moto_api_keeps_flask() -> None:
    # Given moto's own API app (its views read Flask's request context)
    dispatcher = DomainDispatcherApplication(create_backend_app)

    def call() -> dict[str, Any]:
        return EnvironBuilder(method="GET", path="/moto-api/data.json").get_environ()

    app = dispatcher.get_application(call())
    # Then it is answered by Flask, as before
    status, _, data = answered(lambda env, sr: dispatch.answer(app, env, sr), call)
    assert status.startswith("200")
    assert isinstance(data, dict)
