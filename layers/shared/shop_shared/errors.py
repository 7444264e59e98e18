"""Typed errors. Each carries its HTTP status and API code; `http.py` maps them in one place.

The class name is also the `errorType` Lambda reports, which the saga's Retry/Catch match on,
so a service's business errors are named for what happened (`OutOfStock`, `PaymentDeclined`).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure the caller can understand; never a bug."""

    code: ClassVar[str] = "BAD_REQUEST"
    http_status: ClassVar[int] = 400
    # Headers the answer carries besides the body (name -> what it says, for the OpenAPI
    # document); `headers()` gives their values.
    response_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def headers(self) -> dict[str, str]:
        """The values of `response_headers` for this error."""
        return {}


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    http_status = 400


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403


class NotFound(DomainError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(DomainError):
    code = "CONFLICT"
    http_status = 409


class TransientError(DomainError):
    """Worth retrying later: a dependency is down or slow."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


class TooManyRequests(DomainError):
    """The caller has used up a limit for now; `Retry-After` says when to try again."""

    code = "TOO_MANY_REQUESTS"
    http_status = 429
    response_headers: ClassVar[dict[str, str]] = {
        "Retry-After": "Seconds to wait before trying again"
    }

    def __init__(self, message: str, *, retry_after_seconds: int, **context: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, **context)
        self.retry_after_seconds = max(1, retry_after_seconds)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
