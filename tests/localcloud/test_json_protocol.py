"""localcloud's pollers' JSON-protocol calls (localcloud.endpoint.json_protocol): the same
endpoint answers them as it answers boto3 (IAM's gate, moto), in-process or over HTTP; the
answer is the wire's JSON, the form Lambda's events carry; errors carry the SDK's codes."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from localcloud.awsclients import AwsClients
from localcloud.dynamodb import streams
from localcloud.endpoint.calls import error_response, identify
from localcloud.endpoint.inprocess import serve_in_process, stop_serving_in_process
from localcloud.endpoint.server import AwsEndpoint

ITEM = {
    "pk": {"S": f"order#{uuid.uuid4().hex[:6]}"},
    "amount": {"N": "12.50"},
    "blob": {"B": b"\x00\x01binary"},
    "blobs": {"BS": [b"a", b"b"]},
    "lines": {"L": [{"S": "x"}, {"M": {"tags": {"SS": ["p", "q"]}}}]},
}


TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Missing"


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    endpoint = AwsEndpoint(runtime=None, status=dict)
    endpoint.serve("127.0.0.1", 0)
    streams.install()
    yield endpoint
    endpoint.close()


def _streamed_table(clients: AwsClients) -> str:
    table = f"Orders-{uuid.uuid4().hex[:8]}"
    created = clients.dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    clients.dynamodb.put_item(TableName=table, Item=ITEM)  # type: ignore[arg-type]
    return created["TableDescription"]["LatestStreamArn"]


def _wire(value: Any) -> Any:
    """boto3's parsed record as the wire sent it (bytes base64, times epoch seconds)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)


def _read(api: Any, stream_arn: str) -> list[dict[str, Any]]:
    shards = api.call("DescribeStream", {"StreamArn": stream_arn})["StreamDescription"]["Shards"]
    iterator = api.call(
        "GetShardIterator",
        {
            "StreamArn": stream_arn,
            "ShardId": shards[0]["ShardId"],
            "ShardIteratorType": "TRIM_HORIZON",
        },
    )["ShardIterator"]
    records: list[dict[str, Any]] = api.call("GetRecords", {"ShardIterator": iterator})["Records"]
    return records


def test_a_stream_read_answers_the_records_boto3_reads_as_the_wire_sent_them(
    endpoint: AwsEndpoint,
) -> None:
    # Given a streamed table with one item holding binary values
    clients = AwsClients(endpoint.url, in_process=True)
    stream_arn = _streamed_table(clients)
    boto3_records = AwsClients(endpoint.url).streams.get_records(
        ShardIterator=AwsClients(endpoint.url).streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=clients.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"][
                "Shards"
            ][0]["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
    )["Records"]
    # When the JSON API reads the stream in-process, then over HTTP
    api = clients.json_api("dynamodbstreams")
    in_process = _read(api, stream_arn)
    stop_serving_in_process(endpoint.port)
    try:
        over_http = _read(api, stream_arn)
    finally:
        serve_in_process(endpoint.port, endpoint.wsgi_app)
    # Then both are boto3's records in the wire's form: binary base64, the time a number
    expected = json.loads(json.dumps(boto3_records, default=_wire))
    assert in_process == over_http == expected
    image = in_process[0]["dynamodb"]["NewImage"]
    assert image["blob"] == {"B": base64.b64encode(b"\x00\x01binary").decode("ascii")}
    assert isinstance(in_process[0]["dynamodb"]["ApproximateCreationDateTime"], int | float)


def test_errors_carry_the_codes_boto3_reports(endpoint: AwsEndpoint) -> None:
    # Given boto3 and the JSON API, both localcloud's admin
    clients = AwsClients(endpoint.url, in_process=True)
    queue_url = f"{endpoint.url}/123456789012/missing-{uuid.uuid4().hex[:6]}"
    cases = [
        ("dynamodbstreams", "GetRecords", {"ShardIterator": "not-an-iterator"}),
        ("sqs", "ReceiveMessage", {"QueueUrl": queue_url}),
        (
            "dynamodbstreams",
            "DescribeStream",
            {"StreamArn": f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"},
        ),
    ]
    for service, operation, params in cases:
        # When each makes a call AWS refuses
        method = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
        with pytest.raises(ClientError) as sdk:
            getattr(clients.client(service), method)(**params)
        with pytest.raises(ClientError) as ours:
            clients.json_api(service).call(operation, params)
        # Then both report the same code and status
        assert ours.value.response["Error"]["Code"] == sdk.value.response["Error"]["Code"]
        assert (
            ours.value.response["ResponseMetadata"]["HTTPStatusCode"]
            == sdk.value.response["ResponseMetadata"]["HTTPStatusCode"]
        )
        assert ours.value.operation_name == operation


def test_the_iam_gate_judges_the_caller_by_its_credential_and_session_token(
    endpoint: AwsEndpoint,
) -> None:
    # Given a gate that refuses one role, and records who called with which token
    seen: list[tuple[str, str | None]] = []

    def authorize(environ: dict[str, Any]) -> Any:
        key = environ["HTTP_AUTHORIZATION"].split("Credential=", 1)[1].split("/", 1)[0]
        seen.append((key, environ.get("HTTP_X_AMZ_SECURITY_TOKEN")))
        call = identify(environ)
        if key == "refused-role" and call is not None:
            return error_response(call, 400, "AccessDeniedException", "not allowed")
        return None

    endpoint.authorize = authorize
    role = {
        "aws_access_key_id": "refused-role",
        "aws_secret_access_key": "s",
        "aws_session_token": "token-1",
    }
    refused = AwsClients(endpoint.url, credentials=role, in_process=True)
    # When the role reads a stream through the JSON API
    with pytest.raises(ClientError) as refusal:
        refused.json_api("dynamodbstreams").call("ListStreams", {})
    # Then it was refused as boto3's call would be, named by its key and token
    assert refusal.value.response["Error"]["Code"] == "AccessDeniedException"
    assert ("refused-role", "token-1") in seen


def test_a_failure_inside_the_endpoint_is_a_500(endpoint: AwsEndpoint) -> None:
    # Given a gate that breaks
    def authorize(environ: dict[str, Any]) -> Any:
        raise RuntimeError("broken")

    endpoint.authorize = authorize
    # When the JSON API calls in-process
    with pytest.raises(ClientError) as failure:
        AwsClients(endpoint.url, in_process=True).json_api("sqs").call("ListQueues", {})
    # Then it gets the 500 werkzeug's server would have answered
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_an_endpoint_that_is_not_there_is_botocores_connection_error() -> None:
    # Given an endpoint URL nothing serves, in this process or over HTTP
    api = AwsClients("http://127.0.0.1:1").json_api("sqs")
    # When the JSON API calls it
    # Then it fails as a boto3 client would, not with a socket error
    with pytest.raises(EndpointConnectionError):
        api.call("ListQueues", {})
