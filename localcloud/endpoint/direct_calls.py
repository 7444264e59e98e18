"""localcloud's own AWS calls (the X-Ray daemon, CloudWatch's publisher and alarms) sent
without a botocore client, with that client's retries.

A botocore client's side of a call (parameter validation, serializing, endpoint rules, SigV4
signing, a dozen event hooks, parsing the answer through the service model) cost ~1-1.5 ms of
CPU a call in localcloud's process; CloudWatch's client spoke Smithy RPC v2 CBOR, encoded and
decoded in pure Python on both sides. `DirectApi.call` sends the request the SDK would send
(`POST` to the operation's path, or `/` with `X-Amz-Target` for a JSON protocol, the Credential
of the caller's identity) to the endpoint's WSGI app in this process when the clients are
localcloud's own (`AwsClients(in_process=True)`) and this process serves the endpoint, else
over HTTP. The endpoint answers it whole (IAM's gate, fault rules, the billing meter, moto),
so every call is still made, judged, counted and answered as before.

An error answer raises the ClientError the client raised: botocore's own parser for the
protocol reads it, and the client's exception class for its code is raised. Retries are the
client's (`Config(retries={"max_attempts": 2, "mode": "standard"})`, as
localcloud.awsclients makes every client: up to three attempts): botocore's standard retry
policy, built the way botocore builds it for a client, decides and times each retry.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import HeadersDict
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.parsers import create_parser
from botocore.retries import standard

from localcloud.endpoint.inprocess import served_app
from localcloud.endpoint.json_protocol import answer_in_process
from localcloud.spec import REGION

if TYPE_CHECKING:
    from botocore.model import ServiceModel

_SIGNING_DATE = "20260101"  # the Credential's scope date: the endpoint reads only the key
# localcloud.awsclients' `retries={"max_attempts": 2}`: botocore counts retries there, so a
# call is made at most three times in all (its `total_max_attempts`)
MAX_ATTEMPTS = 3


class DirectApi:
    """One AWS service as one identity calls it, without a botocore client."""

    def __init__(
        self,
        endpoint_url: str,
        service: str,
        credentials: Mapping[str, str],
        *,
        protocol: str,
        in_process: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`service`: botocore's name (xray, cloudwatch); `credentials`: boto3's credential
        arguments; `protocol`: the one spoken, of those the service's model lists (botocore's
        name: rest-json, json); `in_process`: answered by this process's endpoint when it
        serves it."""
        url = urlsplit(endpoint_url)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        self._in_process = in_process and self._host in {"127.0.0.1", "localhost"}
        self.service = service
        self._model = service_model(service)
        if protocol not in self._model.metadata.get("protocols", [self._model.protocol]):
            raise ValueError(f"{service} does not speak {protocol}")
        self._protocol = protocol
        signing_name = self._model.signing_name or self._model.endpoint_prefix
        scope = f"{_SIGNING_DATE}/{REGION}/{signing_name}/aws4_request"
        self._headers = {
            "Host": f"{self._host}:{self._port}",
            "X-Amz-Date": f"{_SIGNING_DATE}T000000Z",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={credentials['aws_access_key_id']}/{scope}, "
                "SignedHeaders=content-type;host;x-amz-date, Signature=localcloud"
            ),
        }
        if token := credentials.get("aws_session_token"):
            self._headers["X-Amz-Security-Token"] = token
        self._sleep = sleep
        self._retry_policy = _retry_policy(self._model)

    def call(
        self,
        operation: str,
        body: bytes,
        *,
        content_type: str,
        path: str = "/",
        target: str | None = None,
    ) -> bytes:
        """The answer's body of a successful call; ClientError (or EndpointConnectionError) as
        the client raised it once its retries were spent."""
        headers = {**self._headers, "Content-Type": content_type}
        if target is not None:
            headers["X-Amz-Target"] = target
        attempt = 1
        while True:
            try:
                return self._attempt(operation, headers, body, path)
            except ClientError as error:
                metadata = error.response.get("ResponseMetadata", {})
                context = standard.RetryContext(
                    attempt_number=attempt,
                    operation_model=self._model.operation_model(operation),
                    parsed_response=error.response,
                    http_response=_Answered(
                        int(metadata.get("HTTPStatusCode", 500)),
                        dict(metadata.get("HTTPHeaders", {})),
                    ),
                )
                failure: Exception = error
            except EndpointConnectionError as error:
                context = standard.RetryContext(
                    attempt_number=attempt,
                    operation_model=self._model.operation_model(operation),
                    caught_exception=error,
                )
                failure = error
            if not self._retry_policy.should_retry(context):
                raise failure
            self._sleep(self._retry_policy.compute_retry_delay(context))
            attempt += 1

    def json_call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A call in the AWS JSON protocol (`X-Amz-Target: <targetPrefix>.<Operation>`): the
        answer's JSON. Datetimes in `params` go as epoch seconds, as botocore sends them."""
        if self._protocol != "json":
            raise ValueError(f"{self.service} is spoken here in {self._protocol}")
        metadata = self._model.metadata
        content = self.call(
            operation,
            json.dumps(params, default=_epoch_seconds).encode("utf-8"),
            content_type=f"application/x-amz-json-{metadata.get('jsonVersion', '1.0')}",
            target=f"{metadata['targetPrefix']}.{operation}",
        )
        answer: dict[str, Any] = json.loads(content) if content.strip() else {}
        return answer

    def _attempt(self, operation: str, headers: dict[str, str], body: bytes, path: str) -> bytes:
        app = served_app(self._port) if self._in_process else None
        if app is not None:
            status, answer_headers, content = answer_in_process(
                app, self._port, headers, body, path=path
            )
        else:
            status, answer_headers, content = self._send(headers, body, path)
        if status >= 300:
            raise self.client_error(operation, status, answer_headers, content)
        return content

    def _send(
        self, headers: dict[str, str], body: bytes, path: str
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        except (OSError, http.client.HTTPException) as error:  # as botocore reports it
            url = f"http://{self._host}:{self._port}"
            raise EndpointConnectionError(endpoint_url=url) from error
        finally:
            connection.close()

    def client_error(
        self, operation: str, status: int, headers: dict[str, str], content: bytes
    ) -> ClientError:
        """What the client raises for this error answer: parsed by botocore's parser for the
        answer's protocol, as the client's exception class for its code."""
        parser: Any = create_parser(self._protocol)
        response = {
            "status_code": status,
            "headers": HeadersDict(headers),
            "body": content,
            "context": {"operation_name": operation},
        }
        operation_model = self._model.operation_model(operation)
        parsed: dict[str, Any] = parser.parse(response, operation_model.output_shape)
        code = str(parsed.get("Error", {}).get("Code") or "")
        error_shape = self._model.shape_for_error_code(cast(Any, code))  # stubs say int
        if error_shape is not None:
            parsed.update(parser.parse(response, error_shape))
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        error_class: type[ClientError] = _exceptions(self.service).from_code(code)
        return error_class(parsed, operation)  # type: ignore[arg-type]


def _epoch_seconds(value: Any) -> float | int:
    """How botocore's JSON serializer writes a timestamp: epoch seconds, whole when it is."""
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    if value.tzinfo is None:  # botocore reads a naive time as UTC
        value = value.replace(tzinfo=UTC)
    seconds = value.timestamp()
    return int(seconds) if seconds == int(seconds) else seconds


class _Answered:
    """What botocore's retry checks read of an HTTP response."""

    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = HeadersDict(headers)
        self.content = b""


def _retry_policy(model: ServiceModel) -> standard.RetryPolicy:
    """The standard retry mode's policy, as botocore.retries.standard.register_retry_handler
    makes it for a client of this service."""
    adapter = standard.RetryEventAdapter()
    return standard.RetryPolicy(
        retry_checker=standard.StandardRetryConditions(max_attempts=MAX_ATTEMPTS),
        retry_backoff=standard.ExponentialBackoff(
            service_name=model.service_id.hyphenize(),
            throttling_detector=standard.ThrottlingErrorDetector(adapter),
        ),
    )


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def _exceptions(service: str) -> Any:
    from botocore.errorfactory import ClientExceptionsFactory

    return ClientExceptionsFactory().create_client_exceptions(service_model(service))
