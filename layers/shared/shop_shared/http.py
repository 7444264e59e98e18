"""The one place where errors become HTTP responses, and where the caller's identity is read."""

from __future__ import annotations

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

    return app


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
