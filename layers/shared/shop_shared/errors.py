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

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


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
