"""localcloud's own AWS calls answered inside its process (localcloud.endpoint.inprocess):
the same endpoint answers them, IAM's gate included, without the HTTP hop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from localcloud.awsclients import AwsClients
from localcloud.endpoint.calls import error_response, identify
from localcloud.endpoint.keepalive import close_connections
from localcloud.endpoint.server import AwsEndpoint


def _table(name: str) -> dict[str, Any]:
    """moto's backends live as long as the process: each test its own table."""
    return {
        "TableName": f"{name}-{uuid.uuid4().hex[:8]}",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


REFUSED_KEY = "refused-role"


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    endpoint = AwsEndpoint(runtime=None, status=dict)
    endpoint.serve("127.0.0.1", 0)
    yield endpoint
    endpoint.close()


def test_an_in_process_client_is_answered_by_the_endpoint_without_its_http_server(
    endpoint: AwsEndpoint,
) -> None:
    # Given localcloud's own client and a client of the harness (HTTP), on one endpoint
    own = AwsClients(endpoint.url, in_process=True).dynamodb
    harness = AwsClients(endpoint.url).dynamodb
    table = _table("Things")
    name = table["TableName"]
    own.create_table(**table)
    harness.put_item(TableName=name, Item={"pk": {"S": "one"}, "n": {"N": "1"}})
    # When the HTTP server stops, its open (kept-alive) connections too
    assert endpoint._server is not None
    endpoint._server.shutdown()
    endpoint._server.server_close()
    close_connections(endpoint._server)
    # Then localcloud's own client still reads and writes moto's tables; HTTP can't
    own.update_item(
        TableName=name,
        Key={"pk": {"S": "one"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    item = own.get_item(TableName=name, Key={"pk": {"S": "one"}})["Item"]
    assert item == {"pk": {"S": "one"}, "n": {"N": "2"}}
    with pytest.raises(EndpointConnectionError):
        harness.get_item(TableName=name, Key={"pk": {"S": "one"}})


def test_iam_gate_judges_an_in_process_call_by_its_signature(endpoint: AwsEndpoint) -> None:
    # Given an IAM gate that refuses one access key, and sees every call's signer
    signers: list[str] = []

    def authorize(environ: dict[str, Any]) -> Any:
        key = environ["HTTP_AUTHORIZATION"].split("Credential=", 1)[1].split("/", 1)[0]
        signers.append(key)
        call = identify(environ)
        if key == REFUSED_KEY and call is not None:
            return error_response(call, 400, "AccessDeniedException", "not allowed")
        return None

    endpoint.authorize = authorize
    refused = AwsClients(
        endpoint.url,
        credentials={"aws_access_key_id": REFUSED_KEY, "aws_secret_access_key": "s"},
        in_process=True,
    ).dynamodb
    allowed = AwsClients(endpoint.url, in_process=True).dynamodb
    table = _table("Gated")
    # When both create the table in-process
    with pytest.raises(ClientError) as refusal:
        refused.create_table(**table)
    allowed.create_table(**table)
    # Then the refused role got AWS's error, and the gate saw both signers
    assert refusal.value.response["Error"]["Code"] == "AccessDeniedException"
    assert signers == [REFUSED_KEY, "localcloud"]
    assert table["TableName"] in allowed.list_tables()["TableNames"]


def test_a_failure_inside_the_endpoint_is_a_500_as_over_http(endpoint: AwsEndpoint) -> None:
    # Given a gate that breaks
    def authorize(environ: dict[str, Any]) -> Any:
        raise RuntimeError("broken")

    endpoint.authorize = authorize
    own = AwsClients(endpoint.url, in_process=True).client("sqs")
    # When localcloud's own client calls
    with pytest.raises(ClientError) as failure:
        own.list_queues()
    # Then it gets the 500 werkzeug's server would have answered (after botocore's retry)
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
