"""A traced execution's Lambda tasks give their Invoke the trace header
(localcloud.stepfunctions.tracing), once per Invoke however many tasks used the client."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.responses import StepFunctionResponse

from localcloud.spec import REGION
from localcloud.stepfunctions import tracing

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def traced_with_a_kept_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    """tracing's wrappers installed for this test alone, over a boto_client_for that keeps
    one Lambda client (as localcloud.iam.service_roles does)."""
    for owner, name in (
        (StepFunctionResponse, "start_execution"),
        (Execution, "start"),
        (BaseExecutionWorkerCommunication, "terminated"),
        (lambda_eval_utils, "execute_lambda_function_integration"),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))  # put back after the test
    client = boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    monkeypatch.setattr(lambda_eval_utils, "boto_client_for", lambda **_: client)
    return client


def test_a_kept_clients_invoke_gets_the_header_from_one_hook(
    traced_with_a_kept_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the trace-header hook, counted, and the interpreter's kept client
    runs: list[dict[str, Any]] = []
    hook = tracing._add_trace_header

    def counted(params: dict[str, Any], **kwargs: Any) -> None:
        hook(params, **kwargs)
        runs.append(dict(params["headers"]))

    monkeypatch.setattr(tracing, "_add_trace_header", counted)
    tracing._install()

    # When three tasks get the client, and the last one's Invoke is made with its header
    for _ in range(3):
        client = lambda_eval_utils.boto_client_for(
            region=REGION, service="lambda", state_credentials=None
        )
    assert client is traced_with_a_kept_client
    sent: list[AWSPreparedRequest] = []
    client.meta.events.register("before-send.lambda.Invoke", _answered_here(sent))
    monkeypatch.setattr(tracing._local, "invoke_header", HEADER, raising=False)
    client.invoke(FunctionName="f")

    # Then the hook ran once, and the Invoke carried the header
    assert len(runs) == 1
    assert [request.headers["X-Amzn-Trace-Id"] for request in sent] == [HEADER.encode()]


def _answered_here(sent: list[AWSPreparedRequest]) -> Any:
    """A before-send handler: Lambda's answer to an Invoke, without sending it."""

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield b"{}"

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/json"
        return AWSResponse(request.url, 200, headers, _Raw())

    return answer
