"""The one place where errors become HTTP responses, and where the caller's identity is read.

Each route declares, once, what it may answer besides its success (`operation`): the domain
errors it may raise and whether only the admin group may call it. That declaration is the
route's OpenAPI responses (tools/openapi.py assembles them into the API's document) and what the
error mapping here lets it answer: a domain error a route did not declare is a bug (500), not a
status its clients were never told about.

Before Powertools validates a request (`_RequestGate`), this decides what is refused without
reading the body: a non-admin on an admin-only route (403), a media type other than JSON on a
route with a body (415; media types are case-insensitive), a body that is not UTF-8 (400). Path
parameters are the ones API Gateway passed (`pathParameters`), not a regex's reading of the path.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from shop_shared.errors import DomainError, Forbidden
from shop_shared.observability import logger
from shop_shared.settings import EnvSettings, load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Route
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

ADMIN_GROUP = "admin"
GROUPS_CLAIM = "cognito:groups"
# API Gateway's REST Cognito authorizer passes every claim as a string; a list claim such as
# `cognito:groups` as its items joined with "," (["sales", "admin"] -> "sales,admin": no
# brackets, no spaces; HTTP APIs differ). A group name holding a "," would read as two groups,
# so the template's group names have none (tests/unit/shared/test_http_edge.py checks).
GROUPS_SEPARATOR = ","
ADMIN_ONLY_EXTENSION = "x-admin-only"
ERROR_SCHEMA_REF = "#/components/schemas/Error"  # tools/openapi.py defines it
JSON_MEDIA_TYPE = "application/json"
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
SEND_JSON = "Send the body as JSON with the header Content-Type: application/json"
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]  # as template's Cors
CORS_MAX_AGE_SECONDS = 600
ORIGIN_PATTERN = r"^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)?$"  # template: ApiCorsAllowOrigin


class CorsSettings(EnvSettings):
    """The one browser origin the API answers (template parameter ApiCorsAllowOrigin, through
    Globals); empty: none. One origin, never "*": the API takes bearer tokens."""

    allow_origin: str = Field(default="", alias="API_CORS_ALLOW_ORIGIN", pattern=ORIGIN_PATTERN)


def _cors() -> CORSConfig | None:
    try:
        origin = load_settings(CorsSettings).allow_origin
    except ValidationError as error:
        raise ValueError(f"API_CORS_ALLOW_ORIGIN must be one origin or empty: {error}") from error
    if not origin:
        return None
    # Powertools answers Access-Control-Allow-Origin only to a request from this origin.
    return CORSConfig(
        allow_origin=origin,
        allow_headers=CORS_ALLOW_HEADERS,
        max_age=CORS_MAX_AGE_SECONDS,
        allow_credentials=False,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **details: object,
) -> Response[dict]:
    body: dict[str, object] = {"message": message, "code": code}
    if details:
        body["details"] = details
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=dict(headers) if headers else None,
    )


# ---------------------------------------------------------------- what a route declares


def operation(
    *errors: type[DomainError],
    ok: int | Mapping[int, str] = 200,
    admin: bool = False,
) -> dict[str, Any]:
    """A route decorator's keyword arguments: its OpenAPI responses (the success, with the
    return annotation's schema, and the `Error` body of each domain error it may raise) and,
    for `admin=True`, that only the admin group may call it (403 before anything else).

        @app.post("/orders/<orderId>/cancel", **operation(OrderNotFound, ok=202))
    """
    successes = {ok: "Success"} if isinstance(ok, int) else dict(ok)
    responses: dict[int, OpenAPIResponse] = {
        status: {"description": description} for status, description in successes.items()
    }
    declared: list[type[DomainError]] = [*errors, *([Forbidden] if admin else [])]
    by_status: dict[int, list[type[DomainError]]] = {}
    for error in declared:
        by_status.setdefault(error.http_status, []).append(error)
    for status, kinds in sorted(by_status.items()):
        if status in responses:
            raise ValueError(f"status {status} is both a success and an error of this route")
        responses[status] = {
            "description": "; ".join(dict.fromkeys(_describe(kind) for kind in kinds)),
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": ERROR_SCHEMA_REF}}},
        }
        headers = {name: text for kind in kinds for name, text in kind.response_headers.items()}
        if headers:
            responses[status]["headers"] = {
                name: {"description": text, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
                for name, text in headers.items()
            }
    declaration: dict[str, Any] = {"responses": responses}
    if admin:
        declaration["openapi_extensions"] = {ADMIN_ONLY_EXTENSION: True}
    return declaration


def _describe(error: type[DomainError]) -> str:
    if error is Forbidden:
        return "FORBIDDEN: only the admin group may do this"
    summary = (error.__doc__ or "").strip().split("\n\n")[0]
    summary = " ".join(summary.split())
    return f"{error.code}: {summary}" if summary else error.code


def documented_statuses(route: Route) -> frozenset[int]:
    """The error statuses a route may answer: what it declared, and 400 when it takes input
    (tools/openapi.py documents 400 for every operation with parameters or a body)."""
    statuses = set(route.responses or {})
    dependant = route.dependant
    if (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
    ):
        statuses.add(400)
    return frozenset(statuses)


def _admin_only(route: Route) -> bool:
    return bool((route.openapi_extensions or {}).get(ADMIN_ONLY_EXTENSION))


# ---------------------------------------------------------------- the resolver


def create_resolver() -> APIGatewayRestResolver:
    """A REST API resolver with pydantic validation and the project's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True, cors=_cors())
    # Runs instead of Powertools' own request validation middleware, the first of every route's
    # stack, so its refusals come before any validation.
    app._request_validation_middleware = _RequestGate()

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[dict]:
        route: Route | None = app.context.get("_route")
        if (
            route is not None
            and error.http_status not in documented_statuses(route)
            and not isinstance(error, NotAuthenticated)
        ):
            logger.error(
                "a route answered an error it does not declare",
                extra={"route": f"{route.method} {route.path}", "code": error.code},
            )
            return _internal_error()
        logger.info("request refused", extra={"code": error.code, "context": error.context})
        return error_response(error.http_status, error.code, error.message, headers=error.headers())

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[dict]:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return error_response(
            400, "VALIDATION_ERROR", f"Invalid request: {summary}", errors=problems
        )

    @app.not_found
    def _no_route(_: NotFoundError) -> Response[dict]:
        return error_response(404, "NOT_FOUND", "No such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict]:
        logger.exception("unhandled error")
        return _internal_error()

    def _unreadable(error: Exception) -> Response[dict]:
        # A body nested deeper than the JSON parser's recursion limit escapes Powertools as
        # this. A 400 only when the body itself is what cannot be read, else it is a bug.
        problem = _unreadable_body(app)
        if problem is None:
            return _unexpected(error)
        logger.info("request refused", extra={"code": "VALIDATION_ERROR", "problem": problem})
        return error_response(400, "VALIDATION_ERROR", f"Invalid request: {problem}")

    app.exception_handler(RecursionError)(_unreadable)
    app.exception_handler(binascii.Error)(_unreadable)
    return app


def _internal_error() -> Response[dict]:
    return error_response(500, "INTERNAL_ERROR", "Internal server error")


class _RequestGate(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, after the refusals that come before it."""

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        route: Route = app.context["_route"]
        _use_api_gateways_path_parameters(app)
        if _admin_only(route) and not current_caller(app).is_admin:
            return _refused(Forbidden("Only the admin group may do this"))
        if route.dependant.body_params and app.current_event.body:
            refusal = _body_refusal(app)
            if refusal is not None:
                return refusal
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> dict[str, Any]:
        return self._parse_json_data(app)  # the gate let only JSON through


def _refused(error: DomainError) -> Response[dict]:
    logger.info("request refused", extra={"code": error.code})
    return error_response(error.http_status, error.code, error.message)


def _use_api_gateways_path_parameters(app: Any) -> None:
    """Powertools reads path parameters with a regex over the path, and its `$` also matches
    before a final newline (`/products/KB-001\\n` reads as KB-001); API Gateway's
    `pathParameters` hold each whole segment, which the parameter's own pattern then judges."""
    passed = app.current_event.path_parameters or {}
    arguments = app.context.get("_route_args") or {}
    app.context["_route_args"] = {
        name: passed.get(name, value) for name, value in arguments.items()
    }


def _body_refusal(app: Any) -> Response[dict] | None:
    """415 for a media type other than JSON, 400 for a body that is not UTF-8; None to read it."""
    header = app.current_event.headers.get("content-type")
    if header is not None and not _is_json(header):
        logger.info("request refused", extra={"code": "UNSUPPORTED_MEDIA_TYPE"})
        return error_response(415, "UNSUPPORTED_MEDIA_TYPE", SEND_JSON)
    problem = _undecodable_body(app.current_event.body, app.current_event.is_base64_encoded)
    if problem is not None:
        logger.info("request refused", extra={"code": "VALIDATION_ERROR", "problem": problem})
        return error_response(400, "VALIDATION_ERROR", f"Invalid request: {problem}")
    return None


def _is_json(content_type: str) -> bool:
    """application/json or a +json type, any case, with no charset or UTF-8 (RFC 8259 JSON)."""
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type != JSON_MEDIA_TYPE and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            UTF8_CHARSETS
        ):
            return False
    return True


def _undecodable_body(body: str, is_base64: bool) -> str | None:
    if not is_base64:
        return None  # API Gateway passed it as text: it was UTF-8
    try:
        base64.b64decode(body, validate=True).decode("utf-8")
    except binascii.Error:
        return "the body is not valid base64"
    except UnicodeDecodeError:
        return "the body is not valid UTF-8 text"
    return None


def _unreadable_body(app: APIGatewayRestResolver) -> str | None:
    """Why the request's body can't be read as JSON, or None when it can."""
    event = app.current_event
    try:
        body = event.decoded_body
    except ValueError:  # binascii.Error: isBase64Encoded with a body that is not base64
        return "the body is not valid base64"
    if not body:
        return None
    try:
        json.loads(body)
    except RecursionError:
        return "the JSON body is nested too deeply"
    except ValueError:
        return "the body is not valid JSON"
    return None


# ---------------------------------------------------------------- the caller


class NotAuthenticated(Forbidden):
    """No claims: the route has no authorizer in front of it, which a route that asks for the
    caller must have. Refused (403, as API Gateway refuses an authorized route's unauthorized
    caller, which tools/openapi.py documents for every such route) rather than served."""


@dataclass(frozen=True)
class Caller:
    """Who calls, from the Cognito authorizer's claims (API Gateway passes them as strings)."""

    customer_id: str
    email: str | None
    email_verified: bool
    groups: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Caller:
        sub = claims.get("sub")
        if not sub:
            raise NotAuthenticated("No authenticated caller")
        raw_groups = str(claims.get(GROUPS_CLAIM) or "")
        groups = frozenset(raw_groups.split(GROUPS_SEPARATOR)) - {""}
        email = claims.get("email")
        return cls(
            customer_id=str(sub),
            email=str(email) if email else None,
            email_verified=str(claims.get("email_verified", "")).lower() == "true",
            groups=groups,
        )

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def current_caller(app: APIGatewayRestResolver) -> Caller:
    claims = app.current_event.request_context.authorizer.claims or {}
    return Caller.from_claims(claims)
