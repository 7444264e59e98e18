"""Step Functions' Lambda tasks, invoked without botocore's client side.

moto's interpreter invokes a Lambda task's function (a Task whose Resource is the function's
ARN, or `arn:aws:states:::lambda:invoke`) through a boto3 Lambda client:
`lambda_eval_utils._invoke_lambda_function` -> `client.invoke(**parameters)`. On AWS that
call is Step Functions' own and costs the customer nothing; here it runs in localcloud's
process, where in the 200-order burst of issue 8 botocore's client side (parameter
serialization, endpoint rules, signing, the event hooks, parsing) was about a twentieth of
the GIL's time, for an answer that a function of this same process gives.

`install` swaps that function for one sending the request the SDK would send (`POST
/2015-03-31/functions/<function>/invocations`, the payload as the body, `Qualifier` in the
query string, `X-Amz-Invocation-Type` / `X-Amz-Log-Type` / `X-Amz-Client-Context`, the
trace header localcloud.stepfunctions.tracing gives the task, the Credential and session
token of the state machine's role) to the endpoint's WSGI app in this process
(localcloud.endpoint.json_protocol.answer_in_process). The endpoint answers it whole: IAM's
gate with the role, Lambda's fault rules and concurrency (the runtime's), the billing meter.
The interpreter gets what the boto3 call returned: StatusCode, FunctionError, LogResult,
ExecutedVersion, the Payload as a StreamingBody, ResponseMetadata; an error answer is raised
as the client would raise it (localcloud.stepfunctions.sdk_calls: botocore's rest-json parser,
the modelled exception class for its code, e.g. TooManyRequestsException, else ClientError),
so localcloud.stepfunctions.lambda_errors names it as before.

Parameters outside Invoke's (none of this repository's machines have any), and an endpoint
another process serves, keep moto's boto3 call (over HTTP, as before).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from botocore.response import StreamingBody

from localcloud.endpoint.inprocess import served_app
from localcloud.endpoint.json_protocol import answer_in_process
from localcloud.stepfunctions.sdk_calls import client_error, signed_headers
from localcloud.stepfunctions.tracing import invoke_header

OPERATION = "Invoke"
_HEADERS = {  # Invoke's parameters sent as headers (botocore's Lambda model)
    "InvocationType": "X-Amz-Invocation-Type",
    "LogType": "X-Amz-Log-Type",
    "ClientContext": "X-Amz-Client-Context",
}
_PARAMETERS = frozenset({"FunctionName", "Payload", "Qualifier", *_HEADERS})
_ANSWER_HEADERS = {  # the InvocationResponse members the answer's headers carry
    "FunctionError": "x-amz-function-error",
    "LogResult": "x-amz-log-result",
    "ExecutedVersion": "x-amz-executed-version",
}
_install_lock = threading.Lock()

Invoke = Callable[..., dict[str, Any]]


def install() -> None:
    """Make moto's interpreter invoke Lambda tasks' functions this way (once)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    with _install_lock:
        moto_invoke: Invoke = lambda_eval_utils._invoke_lambda_function
        if getattr(moto_invoke, "localcloud", False):
            return

        def invoke_lambda_function(
            parameters: dict[str, Any], region: str, state_credentials: Any
        ) -> dict[str, Any]:
            from moto.settings import moto_server_port

            port = int(moto_server_port())
            app = served_app(port)
            if app is None or not parameters.keys() <= _PARAMETERS:
                return moto_invoke(
                    parameters=parameters, region=region, state_credentials=state_credentials
                )
            role_arn = getattr(state_credentials, "role_arn", "") or ""
            answer = invoke(app, port, region, role_arn, parameters)
            answer["Payload"] = lambda_eval_utils._from_payload(answer["Payload"])
            return answer

        invoke_lambda_function.localcloud = True  # type: ignore[attr-defined]
        lambda_eval_utils._invoke_lambda_function = invoke_lambda_function


def invoke(
    app: Any, port: int, region: str, role_arn: str, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Lambda's Invoke as the role, answered by the endpoint app serving `port`: what boto3's
    `invoke(**parameters)` returns (Payload unread), or the ClientError it raises."""
    headers = signed_headers(port, region, "lambda", role_arn)
    for name, header in _HEADERS.items():
        if parameters.get(name) is not None:
            headers[header] = str(parameters[name])
    if trace_header := invoke_header():
        headers["X-Amzn-Trace-Id"] = trace_header
    body = _body(parameters.get("Payload"))
    function = str(parameters["FunctionName"])
    qualifier = parameters.get("Qualifier")
    status, answer_headers, content = answer_in_process(
        app,
        port,
        headers,
        body,
        path=f"/2015-03-31/functions/{function}/invocations",
        query=urlencode({"Qualifier": qualifier}) if qualifier is not None else "",
    )
    if status >= 301:  # botocore's line between an answer and an error
        raise client_error("lambda", OPERATION, status, answer_headers, content)
    answer: dict[str, Any] = {"ResponseMetadata": _metadata(status, answer_headers)}
    answer["StatusCode"] = status
    for member, header in _ANSWER_HEADERS.items():
        if header in answer_headers:
            answer[member] = answer_headers[header]
    answer["Payload"] = StreamingBody(io.BytesIO(content), len(content))
    return answer


def _body(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return bytes(payload)


def _metadata(status: int, headers: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in headers:
        metadata["RequestId"] = headers["x-amzn-requestid"]
    metadata.update({"HTTPStatusCode": status, "HTTPHeaders": headers, "RetryAttempts": 0})
    return metadata
