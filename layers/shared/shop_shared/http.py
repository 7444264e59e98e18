"""The one place where errors become HTTP responses, and where the caller's identity is read."""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shop_shared.errors import DomainError, Forbidden
from shop_shared.observability import logger

ADMIN_GROUP = "admin"


def error_response(status: int, code: str, message: str, **details: object) -> Response[dict]:
    body: dict[str, object] = {"message": message, "code": code}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def create_resolver() -> APIGatewayRestResolver:
    """A REST API resolver with pydantic validation and the project's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[dict]:
        logger.info("request refused", extra={"code": error.code, "context": error.context})
        return error_response(error.http_status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[dict]:
        if not _sent_json(app):
            # Powertools reads a form-encoded body as a form (curl -d's default): say so plainly.
            return error_response(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send the body as JSON with the header Content-Type: application/json",
            )
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
        return error_response(500, "INTERNAL_ERROR", "Internal server error")

    def _unreadable(error: Exception) -> Response[dict]:
        # Powertools maps only JSONDecodeError to a validation error; a body nested deeper
        # than the parser's recursion limit or bad base64 escapes as these. A 400 only when
        # the body itself is what cannot be read, else it is the bug it looks like.
        problem = _unreadable_body(app)
        if problem is None:
            return _unexpected(error)
        logger.info("request refused", extra={"code": "VALIDATION_ERROR", "problem": problem})
        return error_response(400, "VALIDATION_ERROR", f"Invalid request: {problem}")

    app.exception_handler(RecursionError)(_unreadable)
    app.exception_handler(binascii.Error)(_unreadable)
    return app


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


def _sent_json(app: APIGatewayRestResolver) -> bool:
    event = app.current_event
    if not event.body:
        return True
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    return content_type in ("", "application/json") or content_type.endswith("+json")


@dataclass(frozen=True)
class Caller:
    """Who calls, from the Cognito authorizer's claims (API Gateway passes them as strings)."""

    customer_id: str
    email: str | None
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only the admin group may do this")


def current_caller(app: APIGatewayRestResolver) -> Caller:
    claims = app.current_event.request_context.authorizer.claims or {}
    sub = claims.get("sub")
    if not sub:
        raise Forbidden("No authenticated caller")
    raw_groups = str(claims.get("cognito:groups") or "").strip("[]")
    groups = frozenset(g.strip() for g in raw_groups.replace(",", " ").split() if g.strip())
    return Caller(customer_id=str(sub), email=claims.get("email"), groups=groups)
