"""Which AWS API call a request to the endpoint is, and how AWS answers an error for it.

Each protocol names its operation its own way: JSON protocols in `X-Amz-Target`
(`DynamoDB_20120810.PutItem`), Smithy RPC v2 CBOR in the path
(`/service/GraniteServiceVersion20100801/operation/PutMetricData`), the query protocol in the
`Action` form field (SES, SNS, STS), and Lambda's REST API in the path. The service is named as
its endpoint prefix (`dynamodbstreams` is told apart from `dynamodb`, which signs for both).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.wrappers import Response

from localcloud.computed_once import computed_once

# JSON protocols: X-Amz-Target prefix -> endpoint prefix.
_TARGET_PREFIXES = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "AWSStepFunctions": "stepfunctions",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "TrentService": "kms",
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "Logs_20140328": "logs",
    "GraniteServiceVersion20100801": "monitoring",
}
_JSON_NAMESPACES = {  # what botocore expects before '#' in a JSON error's __type
    "dynamodb": "com.amazonaws.dynamodb.v20120810",
    "dynamodbstreams": "com.amazonaws.dynamodb.v20120810",
    "sqs": "com.amazonaws.sqs",
    "events": "com.amazonaws.events",
    "stepfunctions": "com.amazonaws.states",
}
_RPC_V2_PATH = re.compile(r"^/service/(?P<target>[^/]+)/operation/(?P<operation>[^/]+)$")
_LAMBDA_FUNCTION_PATH = re.compile(r"^/20\d\d-\d\d-\d\d/functions/(?P<name>[^/]+)(/|$)")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[a-z0-9-]+/(?P<service>[a-z0-9-]+)/aws4_request")
_CALL_KEY = "localcloud.aws_call"  # identify()'s answer, kept in the WSGI environ


@dataclass(frozen=True)
class AwsCall:
    service: str  # endpoint prefix: dynamodb, dynamodbstreams, sqs, events, lambda, ses, ...
    operation: str | None  # PutItem, SendMessage, Invoke, ... (None when not recognisable)
    protocol: str  # json | rpc-v2-cbor | query | rest

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation or '?'}"


def identify(environ: dict[str, Any]) -> AwsCall | None:
    """The AWS call in this WSGI request; None for requests that are not AWS API calls.

    The one place a request's service and operation are worked out (IAM's gate, the fault
    rules and the Invoke route all ask it); the answer is kept in the environ, so a request is
    identified once. Reading a query-protocol body to find its Action puts the body back, so
    whoever answers the request next reads it whole.
    """
    if _CALL_KEY not in environ:
        environ[_CALL_KEY] = _identify(environ)
    call: AwsCall | None = environ[_CALL_KEY]
    return call


def _identify(environ: dict[str, Any]) -> AwsCall | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." in target:
        prefix, operation = target.split(".", 1)
        service = _TARGET_PREFIXES.get(prefix, prefix.lower())
        return AwsCall(service, operation, "json")
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if match := _RPC_V2_PATH.match(path):
        service = _TARGET_PREFIXES.get(match["target"], match["target"].lower())
        return AwsCall(service, match["operation"], "rpc-v2-cbor")
    if _LAMBDA_FUNCTION_PATH.match(path):  # signed or not: Lambda's Invoke route needs it
        return AwsCall("lambda", rest_operation("lambda", method, path), "rest")
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    service = scope["service"]
    action = query_action(environ)
    if action is not None:
        return AwsCall(service, action, "query")
    return AwsCall(service, rest_operation(service, method, path), "rest")


def function_name(path: str) -> str | None:
    """The function a Lambda REST path names (`/2015-03-31/functions/<name>/...`)."""
    match = _LAMBDA_FUNCTION_PATH.match(path)
    return unquote(match["name"]) if match else None


def query_action(environ: dict[str, Any]) -> str | None:
    """The `Action` of a query-protocol call, in the query string or the form body."""
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    content_type = environ.get("CONTENT_TYPE", "")
    if action is None and content_type.startswith("application/x-www-form-urlencoded"):
        action = parse_qs(peek_body(environ).decode("utf-8", "replace")).get("Action")
    return action[0] if action else None


def request_body(environ: dict[str, Any]) -> bytes:
    """The request's body as sent: its Content-Length's bytes, or, chunked (no length; the
    server marks the input terminated), all of it. werkzeug's get_input_stream says the same
    at about ten times the cost (12 against 1 us a call: it wraps the input in a
    LimitedStream), and every query-protocol call is peeked more than once."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        whole: bytes = stream.read()
        return whole
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = stream.read(length) if length else b""
    return body


def peek_body(environ: dict[str, Any]) -> bytes:
    """Read the request's body and put it back, so whoever answers it next reads it whole."""
    body = request_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


# One thread reads a service's routes while the others that miss wait: with an lru_cache, at a
# burst's start dozens of Step Functions tasks each loaded Lambda's model at once.
@computed_once(maxsize=64)
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path pattern, operation) of a REST service, from botocore's own model."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    session = botocore.session.get_session()
    try:
        model = session.get_service_model(service)
    except UnknownServiceError:
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http.get("requestUri", "/")).split("?", 1)[0]
        pattern = re.sub(
            r"\\\{(\w+)(\\\+)?\\\}",
            lambda m: "(.+)" if m.group(2) else "([^/]+)",
            re.escape(uri),
        )
        routes.append((str(http.get("method", "POST")), re.compile(pattern + "/?"), name))
    # The most specific (longest literal) path first, as the service router would.
    return tuple(sorted(routes, key=lambda r: -len(r[1].pattern)))


def rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation a REST call (method and path) is, for a service by its endpoint prefix."""
    for route_method, pattern, name in _rest_routes(service):
        if route_method == method and pattern.fullmatch(path):
            return name
    return None


def error_response(call: AwsCall, status: int, code: str, message: str) -> Response:
    """The error as the service's protocol carries it, so SDKs raise `code` as they would."""
    request_id = str(uuid.uuid4())
    if call.protocol == "query":
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{'Sender' if status < 500 else 'Receiver'}</Type>"
            f"<Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(body, status=status, mimetype="text/xml")
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    if call.protocol == "rest":
        error_body: dict[str, str] = {"Type": "User" if status < 500 else "Service"}
        error_body["Message"] = message
        return Response(
            json.dumps(error_body), status=status, headers=headers, mimetype="application/json"
        )
    namespace = _JSON_NAMESPACES.get(call.service)
    error_type = f"{namespace}#{code}" if namespace else code
    if call.protocol == "rpc-v2-cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        cbor = _cbor_text_map({"__type": error_type, "message": message})
        return Response(cbor, status=status, headers=headers, mimetype="application/cbor")
    if call.service == "sqs":  # SQS's JSON protocol also names the query-compatible code
        headers["x-amzn-query-error"] = f"{code};{'Sender' if status < 500 else 'Receiver'}"
    return Response(
        json.dumps({"__type": error_type, "message": message}),
        status=status,
        headers=headers,
        mimetype="application/x-amz-json-1.0",
    )


def _cbor_text_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949 major types 5 and 3), all an error body needs."""
    out = bytearray(_cbor_head(5, len(fields)))
    for key, value in fields.items():
        for text in (key, value):
            encoded = text.encode()
            out += _cbor_head(3, len(encoded)) + encoded
    return bytes(out)


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for extra, size in ((24, 1), (25, 2), (26, 4)):
        if length < 256**size:
            return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
    raise ValueError("too long for an error body")
