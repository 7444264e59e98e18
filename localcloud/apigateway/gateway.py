"""The template's REST API on a local port: routing, Cognito authorizer, throttling, proxy events.

It behaves like API Gateway's REST API with Lambda proxy integrations (payload format 1.0):
requests are served under `/<stage>`, a route's function gets the proxy event API Gateway
would send, its proxy response becomes the HTTP response, and the failures API Gateway
answers itself (no route, no or bad token, throttled, function error) use the template's
gateway responses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote, urlsplit

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from localcloud.apigateway.cache import InvalidationRefused, StageCache
from localcloud.cognito.tokens import AuthorizerUnavailable, CognitoVerifier, Unauthorized
from localcloud.endpoint.keepalive import KeepAlive, close_connections
from localcloud.lambda_.concurrency import TooManyRequestsException
from localcloud.spec import ACCOUNT_ID, ApiRoute, ApiSpec, GatewayResponse, MockIntegration

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from werkzeug.serving import BaseWSGIServer

    from localcloud.xray.platform import ApiTracer, TracedRequest

logger = logging.getLogger(__name__)

AUTHORIZATION_HEADER = "Authorization"
_HOP_BY_HOP_HEADERS = frozenset({"connection", "content-length", "transfer-encoding"})
_DATE_CLAIMS = frozenset({"exp", "iat"})
# requestContext.identity fields that are null for a Cognito-authorized or public call.
_ABSENT_IDENTITY_FIELDS = (
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
)


class InvokeResult(Protocol):
    @property
    def payload(self) -> bytes: ...

    @property
    def function_error(self) -> str | None: ...


_READS = frozenset({"GET", "HEAD"})


class Invoker(Protocol):
    def invoke(self, name_or_arn: str, payload: bytes) -> InvokeResult: ...


class TracingInvoker(Protocol):
    """An invoker that takes the caller's X-Ray trace header (LambdaRuntime); a traced stage
    is only ever given one."""

    def invoke(
        self, name_or_arn: str, payload: bytes, *, trace_header: str | None = None
    ) -> InvokeResult: ...


class WebAclInspector(Protocol):
    """The web ACL associated with the stage (localcloud.waf): True when it blocks the
    request from `source_ip` with these headers."""

    def blocks(self, source_ip: str, headers: Mapping[str, str]) -> bool: ...


# ---------------------------------------------------------------- gateway responses

# The status API Gateway gives each response type when the template does not set one.
_DEFAULT_STATUS = {
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "THROTTLED": 429,
    "AUTHORIZER_FAILURE": 500,
    "WAF_FILTERED": 403,
}
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z]+(?:\.[A-Za-z]+)*)")


class GatewayError(Exception):
    """A response API Gateway produces itself instead of calling the integration."""

    def __init__(self, response_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message
        self.status = status if status is not None else _DEFAULT_STATUS[response_type]


def _missing_route() -> GatewayError:
    return GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")


def _integration_failure() -> GatewayError:
    return GatewayError("DEFAULT_5XX", "Internal server error", status=502)


def _invocation_rejected() -> GatewayError:
    """Lambda refused the invocation (throttled): API Gateway's 500, not the 502 of a
    function error."""
    return GatewayError("DEFAULT_5XX", "Internal server error", status=500)


def gateway_response_headers(
    error: GatewayError, responses: Mapping[str, GatewayResponse]
) -> dict[str, str]:
    """The static headers (ResponseParameters) of the gateway response answering `error`."""
    configured = _configured_response(error, responses)
    return dict(configured.headers) if configured is not None else {}


def _configured_response(
    error: GatewayError, responses: Mapping[str, GatewayResponse]
) -> GatewayResponse | None:
    fallback = "DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX"
    return responses.get(error.response_type) or responses.get(fallback)


def render_gateway_response(
    error: GatewayError, responses: Mapping[str, GatewayResponse], request_id: str
) -> tuple[int, str]:
    """(status, body) of a gateway response: its own template, else DEFAULT_4XX/5XX's."""
    configured = _configured_response(error, responses)
    status = error.status
    template = _DEFAULT_TEMPLATE
    if configured is not None:
        status = configured.status_code or status
        template = configured.template or template
    values = {
        "error.messageString": json.dumps(error.message),
        "error.message": error.message,
        "error.responseType": error.response_type,
        "requestId": request_id,
    }

    def substitute(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return status, _CONTEXT_VARIABLE.sub(substitute, template)


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Resource:
    """One resource path template and the methods defined on it."""

    path: str
    segments: tuple[str, ...]
    methods: dict[str, ApiRoute]

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sorts literal segments before `{param}` before `{proxy+}`, position by position."""
        return tuple(_segment_rank(segment) for segment in self.segments)

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters when `parts` fits this template, else None."""
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                if index >= len(parts):
                    return None
                params[segment[1:-2]] = "/".join(parts[index:])
                return params
            if index >= len(parts):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                params[segment[1:-1]] = parts[index]
            elif segment != parts[index]:
                return None
        return params if len(parts) == len(self.segments) else None


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    return 1 if segment.startswith("{") else 0


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


class Router:
    """Finds the most specific resource for a path, then the method on that resource."""

    def __init__(self, routes: Iterable[ApiRoute]) -> None:
        by_path: dict[str, dict[str, ApiRoute]] = {}
        for route in routes:
            by_path.setdefault(route.path, {})[route.method.upper()] = route
        resources = [
            _Resource(path, tuple(_split(path)), methods) for path, methods in by_path.items()
        ]
        self._resources = sorted(resources, key=lambda resource: resource.specificity)

    def match(self, method: str, path: str) -> RouteMatch | None:
        parts = _split(path)
        for resource in self._resources:
            params = resource.bind(parts)
            if params is None:
                continue
            # Like API Gateway: the most specific resource wins, even without this method.
            route = resource.methods.get(method.upper()) or resource.methods.get("ANY")
            return RouteMatch(route, params) if route is not None else None
        return None


# ---------------------------------------------------------------- throttling


class TokenBucket:
    """API Gateway's throttle: `rate` tokens a second, at most `capacity` saved up."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def _stage_bucket(api: ApiSpec, clock: Callable[[], float]) -> TokenBucket | None:
    if api.throttle_rate is None:
        return None
    burst = api.throttle_burst if api.throttle_burst is not None else max(1, api.throttle_rate)
    return TokenBucket(api.throttle_rate, burst, clock)


# ---------------------------------------------------------------- the proxy event


def api_gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the Cognito authorizer hands them on: every value a string."""
    return {name: _claim_string(name, value) for name, value in claims.items()}


def _claim_string(name: str, value: Any) -> str:
    if name in _DATE_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        # API Gateway renders these as Java's Date.toString does.
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    return _as_string(value)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class _RequestInfo:
    request_id: str
    stage: str
    api_id: str
    received_at: float


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[Any, Any]:
    """API Gateway's (single-value map, multi-value map); the single one keeps the last value."""
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {key: values[-1] for key, values in multi.items()}, multi


def _request_headers(request: Request) -> list[tuple[str, str]]:
    pairs = list(request.headers.items())
    forwarded_for = request.headers.get("X-Forwarded-For")
    source_ip = request.remote_addr or "127.0.0.1"
    pairs = [(key, value) for key, value in pairs if key.lower() != "x-forwarded-for"]
    pairs.append(
        ("X-Forwarded-For", f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip)
    )
    pairs.append(("X-Forwarded-Proto", request.scheme))
    port = request.environ.get("SERVER_PORT")
    if port:
        pairs.append(("X-Forwarded-Port", str(port)))
    return pairs


def _request_body(request: Request) -> tuple[str | None, bool]:
    data = request.get_data(cache=False)
    if not data:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), True


def raw_path(request: Request) -> str:
    """The path as the client sent it, percent-encoding and all (werkzeug's `request.path` is
    decoded). A REST API routes on this and passes it, and each path parameter, still encoded:
    `/products/a%2Fb` is one segment, and its `sku` is `a%2Fb`."""
    uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not uri:
        return quote(request.path, safe="/%")
    path = urlsplit(uri).path if "://" in uri.split("?", 1)[0] else uri.split("?", 1)[0]
    return path.split("#", 1)[0] or "/"


def build_proxy_event(
    request: Request,
    match: RouteMatch,
    info: _RequestInfo,
    claims: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The REST API (payload 1.0) Lambda proxy event API Gateway sends for this request."""
    resource_path = match.route.path
    path = raw_path(request)[len(info.stage) + 1 :] or "/"
    headers, multi_value_headers = _single_and_multi(_request_headers(request))
    query, multi_value_query = _single_and_multi(request.args.items(multi=True))
    body, is_base64 = _request_body(request)
    return {
        "resource": resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_value_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": _request_context(request, match, info, claims),
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _request_context(
    request: Request,
    match: RouteMatch,
    info: _RequestInfo,
    claims: Mapping[str, Any] | None,
) -> dict[str, Any]:
    domain_name = request.host
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": info.api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".")[0].split(":")[0],
        "extendedRequestId": info.request_id,
        "httpMethod": request.method,
        "identity": _identity(request),
        "path": raw_path(request),
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "requestId": info.request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(info.received_at)),
        "requestTimeEpoch": int(info.received_at * 1000),
        "resourceId": None,
        "resourcePath": match.route.path,
        "stage": info.stage,
    }
    if claims is not None:
        context["authorizer"] = {"claims": api_gateway_claims(claims)}
    return context


def _identity(request: Request) -> dict[str, Any]:
    identity: dict[str, Any] = dict.fromkeys(_ABSENT_IDENTITY_FIELDS)
    identity["sourceIp"] = request.remote_addr or "127.0.0.1"
    identity["userAgent"] = request.headers.get("User-Agent")
    return identity


# ---------------------------------------------------------------- the proxy response


class MalformedProxyResponse(Exception):
    """The function answered, but not with a valid Lambda proxy response."""


def parse_proxy_response(payload: bytes) -> Response:
    """The HTTP response for a Lambda proxy response; MalformedProxyResponse if it is not one."""
    try:
        data = json.loads(payload)
    except ValueError as error:
        raise MalformedProxyResponse("not JSON") from error
    if not isinstance(data, dict):
        raise MalformedProxyResponse("not an object")
    status = data.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse("statusCode")
    response = Response(_response_body(data), status=status)
    response.headers.clear()
    for name, value in _response_headers(data):
        response.headers.add(name, value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def _response_body(data: dict[str, Any]) -> bytes:
    body = data.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResponse("body is not a string")
    if not data.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as error:
        raise MalformedProxyResponse("body is not base64") from error


def _response_headers(data: dict[str, Any]) -> list[tuple[str, str]]:
    """`headers` and `multiValueHeaders` merged; a name in both keeps the multi-value list."""
    single = _header_map(data.get("headers"), multi=False)
    multi = _header_map(data.get("multiValueHeaders"), multi=True)
    merged = {name: values for name, values in single.items() if name not in multi}
    merged.update(multi)
    return [
        (name, value)
        for name, values in merged.items()
        if name.lower() not in _HOP_BY_HOP_HEADERS
        for value in values
    ]


def _header_map(raw: Any, *, multi: bool) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MalformedProxyResponse("headers are not an object")
    result: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if multi and isinstance(value, list) else [value]
        if any(isinstance(item, dict | list) for item in values):
            raise MalformedProxyResponse(f"header {name} is not a string")
        result[str(name)] = [_as_string(item) for item in values if item is not None]
    return result


# ---------------------------------------------------------------- the gateway


class _QuietRequestHandler(KeepAlive):
    """werkzeug's handler, kept alive, without its access log (the gateway logs each request
    itself)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class ApiGateway:
    """One REST API stage, as a WSGI app (`wsgi_app`) and, after `serve`, an HTTP server."""

    def __init__(
        self,
        api: ApiSpec,
        invoker: Invoker,
        verifiers: Mapping[str, CognitoVerifier],
        *,
        throttle_clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[int, float], None] | None = None,
        tracer: ApiTracer | None = None,
        cache_clock: Callable[[], float] = time.monotonic,
        may_invalidate_cache: Callable[[Request, str], bool] | None = None,
        on_cache_lookup: Callable[[bool], None] | None = None,
        web_acl: WebAclInspector | None = None,
        read_invoker: Invoker | None = None,
    ) -> None:
        missing = {r.authorizer for r in api.routes if r.authorizer} - set(verifiers)
        if missing:
            raise ValueError(f"no verifier for authorizer(s): {sorted(missing)}")
        self.api = api
        self._invoker = invoker
        # The invoker for reads (GET, HEAD), when it differs: localcloud's runtime queues a
        # client's new work behind the work inside, and a read, which starts none, with it.
        self._read_invoker = read_invoker or invoker
        self._verifiers = dict(verifiers)
        # Methods API Gateway answers itself (the CORS preflight): routed like the others.
        self._mocks = {(mock.method, mock.path): mock for mock in api.mocks}
        mock_routes = [ApiRoute("", mock.method, mock.path, None) for mock in api.mocks]
        self._router = Router([*api.routes, *mock_routes])
        self._bucket = _stage_bucket(api, throttle_clock)
        self._on_request = on_request  # (status, latency ms): CloudWatch's AWS/ApiGateway
        self._tracer = tracer  # the stage's TracingEnabled: X-Ray segments (localcloud.xray)
        # The stage cache (CacheClusterEnabled + MethodSettings); a pass-through without one.
        self.cache = StageCache(
            api, clock=cache_clock, may_invalidate=may_invalidate_cache, on_lookup=on_cache_lookup
        )
        self.web_acl = web_acl  # AWS WAF, asked first: before routing, throttle and authorizer
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------- HTTP server

    def serve(self, host: str, port: int) -> None:
        """Start serving on a background thread; port 0 picks a free port (see `port`)."""
        if self._server is not None:
            raise RuntimeError("already serving")
        self._server = make_server(
            host, port, self.wsgi_app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"api-{self.api.logical_id}", daemon=True
        )
        self._thread.start()
        logger.info(
            "api listening",
            extra={"url": f"http://{host}:{self.port}/{self.api.stage}"},
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not serving")
        return self._server.server_port

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        close_connections(self._server)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    # -------------------------------------------------------- WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        info = _RequestInfo(
            request_id=str(uuid.uuid4()),
            stage=self.api.stage,
            api_id=self.api.logical_id,
            received_at=time.time(),
        )
        tracer = self._tracer
        traced = tracer.begin(request.headers.get("X-Amzn-Trace-Id")) if tracer else None
        try:
            response = self._handle(request, info, traced)
        except GatewayError as error:
            response = self._gateway_response(error, info.request_id)
        response.headers["x-amzn-RequestId"] = info.request_id
        response.headers["X-Request-Id"] = info.request_id
        if tracer is not None and traced is not None:
            response.headers["X-Amzn-Trace-Id"] = traced.response_header
            tracer.end(
                traced,
                method=request.method,
                url=request.url,
                status=response.status_code,
                client_ip=request.remote_addr or "127.0.0.1",
                user_agent=request.headers.get("User-Agent"),
                resource_path=traced.resource_path,
                request_id=info.request_id,
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %d %.1fms",
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            extra={"request_id": info.request_id},
        )
        if self._on_request is not None:
            self._on_request(response.status_code, elapsed_ms)
        return response(environ, start_response)

    def _handle(
        self, request: Request, info: _RequestInfo, traced: TracedRequest | None = None
    ) -> Response:
        if self.web_acl is not None and self.web_acl.blocks(
            request.remote_addr or "127.0.0.1", dict(request.headers.items())
        ):
            raise GatewayError("WAF_FILTERED", "Forbidden")
        match = self._route(request)
        if traced is not None:
            traced.resource_path = match.route.path
        if self._bucket is not None and not self._bucket.take():
            raise GatewayError("THROTTLED", "Too Many Requests")
        mock = self._mocks.get((match.route.method, match.route.path))
        if mock is not None:
            return _mock_response(mock)
        claims = self._authorize(match.route, request)
        event = build_proxy_event(request, match, info, claims)
        try:
            return self.cache.serve(
                match.route,
                request,
                match.path_parameters,
                lambda: self._invoke(match.route, event, traced),
            )
        except InvalidationRefused as error:  # FAIL_WITH_403
            raise GatewayError("ACCESS_DENIED", "Unauthorized") from error

    def _route(self, request: Request) -> RouteMatch:
        prefix = f"/{self.api.stage}"
        path = raw_path(request)
        if path != prefix and not path.startswith(prefix + "/"):
            raise _missing_route()
        match = self._router.match(request.method, path[len(prefix) :] or "/")
        if match is None:
            raise _missing_route()
        return match

    def _authorize(self, route: ApiRoute, request: Request) -> dict[str, Any] | None:
        if route.authorizer is None:
            return None
        token = request.headers.get(AUTHORIZATION_HEADER, "").strip()
        if not token:
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        try:
            return self._verifiers[route.authorizer].verify(token)
        except Unauthorized as error:
            raise GatewayError("UNAUTHORIZED", error.message) from error
        except AuthorizerUnavailable as error:
            logger.error("authorizer unavailable", extra={"authorizer": route.authorizer})
            raise GatewayError("AUTHORIZER_FAILURE", "Internal server error") from error

    def _invoke(
        self, route: ApiRoute, event: dict[str, Any], traced: TracedRequest | None = None
    ) -> Response:
        payload = json.dumps(event).encode("utf-8")
        invoker = self._read_invoker if route.method in _READS else self._invoker
        try:
            if traced is None:
                result = invoker.invoke(route.function, payload)
            else:
                traced.function, traced.invoke_started = route.function, time.time()
                try:
                    result = cast("TracingInvoker", invoker).invoke(
                        route.function, payload, trace_header=str(traced.header)
                    )
                finally:
                    traced.invoke_ended = time.time()
        except TooManyRequestsException as error:
            # "If the Lambda API rejects the invocation request, API Gateway returns a 500
            # error code" (AWS Lambda Developer Guide, "Handling Lambda errors with an API
            # Gateway API"); the body is {"message": "Internal server error"}.
            logger.warning("function throttled", extra={"function": route.function})
            raise _invocation_rejected() from error
        except Exception as error:
            # Whatever went wrong running the function, the client gets API Gateway's 502.
            logger.exception("invoke failed", extra={"function": route.function})
            raise _integration_failure() from error
        if result.function_error:
            logger.warning(
                "function error",
                extra={"function": route.function, "function_error": result.function_error},
            )
            raise _integration_failure()
        try:
            return parse_proxy_response(result.payload)
        except MalformedProxyResponse as error:
            logger.warning(
                "malformed Lambda proxy response",
                extra={"function": route.function, "problem": str(error)},
            )
            raise _integration_failure() from error

    def _gateway_response(self, error: GatewayError, request_id: str) -> Response:
        status, body = render_gateway_response(error, self.api.gateway_responses, request_id)
        response = Response(body, status=status, content_type="application/json")
        for name, value in gateway_response_headers(error, self.api.gateway_responses).items():
            response.headers[name] = value
        return response


def _mock_response(mock: MockIntegration) -> Response:
    response = Response(mock.body, status=mock.status, content_type="application/json")
    for name, value in mock.headers.items():
        response.headers[name] = value
    return response
