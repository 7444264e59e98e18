"""Step Functions' AWS calls, sent as the SDK sends them without botocore's client side.

moto's interpreter makes each task's AWS call through a boto3 client
(localcloud.iam.service_roles keeps one per role), and in localcloud's process that client's
machinery (endpoint rules, signing, a dozen event hooks, retry handlers) cost more than the
call's answer by the endpoint in this same process. These helpers build the request the SDK
would send, signed as localcloud's IAM gate reads a signature (the Credential's access key,
the session token), hand it to the endpoint's WSGI app in this process, which judges it whole
(IAM with the state machine's role, fault rules, the meter, moto), and return what the boto3
call returned, or raise what it raised: botocore's own serializer and parser for the service's
protocol, its modelled exception class for the error's code, its legacy retry handler's mark
on a retryable error after the single attempt moto's clients make.

localcloud.stepfunctions.lambda_invoke uses the signing and error parts for Lambda's Invoke;
`install_dynamodb_tasks` sends `arn:aws:states:::dynamodb:*` tasks' calls (the sagas'
ClaimOrder, a conditional PutItem) this way. An endpoint another process serves keeps moto's
boto3 call (over HTTP, as before).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore import retryhandler, translate
from botocore.awsrequest import HeadersDict
from botocore.errorfactory import ClientExceptionsFactory
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from localcloud.endpoint.inprocess import served_app
from localcloud.endpoint.json_protocol import answer_in_process
from localcloud.iam.service_roles import state_machine_credentials

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from botocore.model import ServiceModel

_SIGNING_DATE = "20260101"  # the Credential's scope date: the endpoint reads only the key
_install_lock = threading.Lock()


def signed_headers(port: int, region: str, service: str, role_arn: str) -> dict[str, str]:
    """Host, date and SigV4 Authorization (and session token) of a call made as the role."""
    credentials = state_machine_credentials(role_arn)
    model = service_model(service)
    signing_name = model.signing_name or model.endpoint_prefix
    scope = f"{_SIGNING_DATE}/{region}/{signing_name}/aws4_request"
    headers = {
        "Host": f"localhost:{port}",
        "X-Amz-Date": f"{_SIGNING_DATE}T000000Z",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={credentials['aws_access_key_id']}/{scope}, "
            "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=localcloud"
        ),
    }
    if token := credentials.get("aws_session_token"):
        headers["X-Amz-Security-Token"] = token
    return headers


def json_call(
    app: Any, port: int, region: str, role_arn: str, *, service: str, operation: str, params: Any
) -> dict[str, Any]:
    """A JSON-protocol call (DynamoDB, SQS, EventBridge, ...) as the role: what the boto3
    client's method returns, or the ClientError it raises."""
    model = service_model(service)
    operation_model = model.operation_model(operation)
    request = _serializer(model.protocol).serialize_to_request(params, operation_model)
    headers = {**request["headers"], **signed_headers(port, region, service, role_arn)}
    status, answer_headers, content = answer_in_process(app, port, headers, request["body"])
    if status >= 301:  # botocore's line between an answer and an error
        raise client_error(service, operation, status, answer_headers, content)
    output_shape = operation_model.output_shape
    if output_shape is None:
        answer: dict[str, Any] = {"ResponseMetadata": {}}
    else:
        answer = _parser(model.protocol).parse(
            _response(operation, status, answer_headers, content), output_shape
        )
    answer["ResponseMetadata"]["RetryAttempts"] = 0
    return answer


def client_error(
    service: str, operation: str, status: int, headers: dict[str, str], content: bytes
) -> ClientError:
    """The exception a boto3 client making one attempt raises for this error answer (parsed
    as botocore's endpoint parses it, with the modelled error's own fields)."""
    model = service_model(service)
    parser = _parser(model.protocol)
    response = _response(operation, status, headers, content)
    output_shape = model.operation_model(operation).output_shape
    parsed: dict[str, Any] = parser.parse(response, output_shape)
    error_shape = model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
    if error_shape is not None:
        parsed.update(parser.parse(response, error_shape))
    # botocore's legacy retry handler, past its one attempt, marks a retryable error so
    _retry_checker(service)(
        attempts=1,
        response=(_Answered(status, headers, content), parsed),
        caught_exception=None,
        request_dict={"context": {}},
    )
    parsed["ResponseMetadata"]["RetryAttempts"] = 0
    error = parsed.get("Error", {})
    code = str(error.get("QueryErrorCode") or error.get("Code") or "")
    error_class: type[ClientError] = _exceptions(service).from_code(code)
    return error_class(parsed, operation)  # type: ignore[arg-type]


def install_dynamodb_tasks() -> None:
    """Send `arn:aws:states:::dynamodb:*` tasks' calls this way (once)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (  # noqa: E501
        StateTaskServiceDynamoDB,
    )

    with _install_lock:
        moto_eval = StateTaskServiceDynamoDB._eval_service_task
        if getattr(moto_eval, "localcloud", False):
            return

        def eval_service_task(
            self: StateTaskServiceDynamoDB,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> None:
            from moto.settings import moto_server_port

            port = int(moto_server_port())
            app = served_app(port)
            operation = _operation_names("dynamodb").get(self._get_boto_service_action())
            if app is None or operation is None:
                return moto_eval(
                    self, env, resource_runtime_part, normalised_parameters, state_credentials
                )
            response = json_call(
                app,
                port,
                resource_runtime_part.region,
                getattr(state_credentials, "role_arn", "") or "",
                service="dynamodb",
                operation=operation,
                params=normalised_parameters,
            )
            response.pop("ResponseMetadata", None)  # as moto's own does
            env.stack.append(response)
            return None

        eval_service_task.localcloud = True  # type: ignore[attr-defined]
        StateTaskServiceDynamoDB._eval_service_task = eval_service_task  # type: ignore[method-assign]


class _Answered:
    """What botocore's retry checkers read of an HTTP response (status, headers: DynamoDB's
    checks the body's CRC32 header, content)."""

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = HeadersDict(headers)
        self.content = content


def _response(operation: str, status: int, headers: dict[str, str], content: bytes) -> Any:
    return {
        "status_code": status,
        "headers": HeadersDict(headers),
        "body": content,
        "context": {"operation_name": operation},
    }


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def _operation_names(service: str) -> dict[str, str]:
    """The operations of a service by boto3's method name (put_item -> PutItem)."""
    from botocore import xform_name

    return {xform_name(name): name for name in service_model(service).operation_names}


@cache
def _serializer(protocol: str) -> Any:
    return create_serializer(protocol, include_validation=False)


@cache
def _parser(protocol: str) -> Any:
    return create_parser(protocol)


@cache
def _exceptions(service: str) -> Any:
    return ClientExceptionsFactory().create_client_exceptions(service_model(service))


@cache
def _retry_checker(service: str) -> Any:
    """botocore's legacy retry handler as moto's clients are configured (one attempt in all):
    here it only marks `MaxAttemptsReached` on a retryable error."""
    retry = botocore.session.get_session().get_component("data_loader").load_data("_retry")
    prefix = service_model(service).endpoint_prefix
    config = translate.build_retry_config(
        prefix, retry.get("retry", {}), retry.get("definitions", {}), {"max_attempts": 0}
    )
    return retryhandler.create_retry_handler(config, prefix)
