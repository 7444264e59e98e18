"""An AWS JSON-protocol API called by localcloud itself, without botocore's client side.

Lambda's event source pollers are AWS's own service: on AWS their GetRecords and
ReceiveMessage cost the customer nothing. Here they are threads of localcloud, and with a
boto3 client each call was built, signed (awscrt), given a user agent and its answer parsed
through the service model: in the 200-order burst of issue 8 a stream reader's GetRecords
cost 11 ms of localcloud's CPU, of which the endpoint's answer was 4.5 and botocore's
parsing of the records' item images alone 2.8; the stream readers were a fifth of
localcloud's CPU. botocore's own parsing also turned binary attribute values into bytes,
which the reader could not put back into the function's JSON event.

`JsonApi.call(operation, params)` sends the request the way the SDK would (a POST with the
JSON body, X-Amz-Target, the Credential and session token of the caller's identity) to the
endpoint's WSGI app in this process, or over HTTP when another process serves it. The
endpoint answers it whole (IAM's gate, fault rules, the billing meter, moto), so nothing the
poller may or may not do changes. The answer is the wire's JSON, as Lambda hands records to a
function: binary values base64-encoded, times in epoch seconds. An error raises botocore's
ClientError with the code the SDK would report (the JSON `__type`, or for SQS the query
error code AWS sends alongside, as botocore reads it), and an endpoint that can't be reached
botocore's EndpointConnectionError, so callers handle both as before. There is no retry: the
pollers retry on their own schedule, as Lambda's do.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, EndpointConnectionError

from localcloud.endpoint.inprocess import served_app
from localcloud.endpoint.proxy import KeptConnections
from localcloud.spec import REGION

log = logging.getLogger("localcloud.aws")

_SIGNING_DATE = "20260101"  # the Credential's scope date: the endpoint reads only the key


class JsonApi:
    """One JSON-protocol service (DynamoDB Streams, SQS, ...) as one identity calls it."""

    def __init__(
        self,
        endpoint_url: str,
        metadata: Mapping[str, Any],
        credentials: Mapping[str, str],
    ) -> None:
        """`metadata`: the service model's (botocore `ServiceModel.metadata`): targetPrefix,
        jsonVersion, signingName. `credentials`: boto3's credential arguments."""
        url = urlsplit(endpoint_url)
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        # kept alive: a poller calls another process's endpoint (DynamoDB's) several times a
        # second
        self._connections = KeptConnections(f"http://{self._host}:{self._port}")
        self._prefix = metadata["targetPrefix"]
        self._content_type = f"application/x-amz-json-{metadata.get('jsonVersion', '1.0')}"
        signing_name = metadata.get("signingName") or metadata["endpointPrefix"]
        scope = f"{_SIGNING_DATE}/{REGION}/{signing_name}/aws4_request"
        self._headers = {
            "Host": f"{self._host}:{self._port}",
            "Content-Type": self._content_type,
            "X-Amz-Date": f"{_SIGNING_DATE}T000000Z",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={credentials['aws_access_key_id']}/{scope}, "
                "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=localcloud"
            ),
        }
        token = credentials.get("aws_session_token")
        if token:
            self._headers["X-Amz-Security-Token"] = token

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params).encode("utf-8")
        headers = {**self._headers, "X-Amz-Target": f"{self._prefix}.{operation}"}
        app = served_app(self._port) if self._host in {"127.0.0.1", "localhost"} else None
        if app is not None:
            status, answer_headers, content = answer_in_process(app, self._port, headers, body)
        else:
            status, answer_headers, content = self._send(headers, body)
        try:
            answer: dict[str, Any] = json.loads(content) if content.strip() else {}
        except ValueError:  # a 500's page
            if status < 300:
                raise
            answer = {}
        if status >= 300:
            error = _error_response(status, answer_headers, answer)
            raise ClientError(cast(Any, error), operation)
        return answer

    def _send(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            status, _, answer_headers, content = self._connections.exchange(
                "POST", "/", body, headers
            )
        except (OSError, http.client.HTTPException) as error:  # as botocore reports it
            raise EndpointConnectionError(endpoint_url=self._connections.url) from error
        return status, {k.lower(): v for k, v in answer_headers}, content


def answer_in_process(
    app: Any,
    port: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    path: str = "/",
    query: str = "",
) -> tuple[int, dict[str, str], bytes]:
    """The endpoint's WSGI app's answer to a POST (PEP 3333's environ, made by hand): to `/`
    for a JSON protocol; Step Functions' Lambda Invoke (localcloud.stepfunctions.lambda_invoke)
    posts to the function's path, given decoded as a server hands it to the app."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        if name == "Content-Type":  # none on a Lambda Invoke, as botocore sends it
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        started[:] = [status, response_headers]

    try:
        chunks = app(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except Exception:  # werkzeug's server answers an app's exception with a 500, so do we
        log.exception("in-process AWS call failed: %s", headers.get("X-Amz-Target") or path)
        return 500, {}, b""
    status, response_headers = started
    return int(status.split(" ", 1)[0]), {k.lower(): v for k, v in response_headers}, content


def _error_response(
    status: int, headers: Mapping[str, str], answer: Mapping[str, Any]
) -> dict[str, Any]:
    """botocore's error shape: the code as the SDK reads it from a JSON-protocol answer."""
    query_error = headers.get("x-amzn-query-error", "")
    code = (
        query_error.split(";", 1)[0]
        or str(answer.get("__type", "")).rsplit("#", 1)[-1]
        or headers.get("x-amzn-errortype", "").split(":", 1)[0]
        or str(status)
    )
    message = answer.get("message") or answer.get("Message") or ""
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": dict(headers)},
    }
