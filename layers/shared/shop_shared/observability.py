"""One Logger, Tracer and Metrics per function; service name and level come from the template.

The tracer is Powertools' Tracer (the X-Ray SDK: a `## handler` subsegment per invocation,
one per `capture_method`, one per AWS call through the patched botocore and http.client) only
where tracing is on by Powertools' own switch, POWERTOOLS_TRACE_DISABLED (unset or "false").
The template turns it off for every function (Globals), because importing the SDK and patching
costs 45 ms of each cold start (about 100 ms where nothing else imports botocore), and Lambda's
active tracing records the function's segment (Initialization, Invocation, Overhead, errors)
without it; botocore passes the invocation's trace header (_X_AMZN_TRACE_ID) on to Step
Functions, EventBridge and Lambda itself, so traces stay connected across services. Set the
variable to "false" on a function (or in Globals) to get the SDK's subsegments back there.
With it off, `tracer` is `Untraced`: the same decorators, returning the function unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aws_lambda_powertools.logging import Logger as PowertoolsLogger
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

if TYPE_CHECKING:
    from aws_lambda_powertools.tracing import Tracer

F = TypeVar("F", bound=Callable[..., Any])


class Untraced:
    """Tracer's decorators without the X-Ray SDK: each returns the function it is given."""

    disabled = True

    @overload
    def capture_lambda_handler(self, lambda_handler: F) -> F: ...
    @overload
    def capture_lambda_handler(
        self,
        lambda_handler: None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[[F], F]: ...
    def capture_lambda_handler(
        self,
        lambda_handler: F | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> F | Callable[[F], F]:
        del capture_response, capture_error
        return lambda_handler if lambda_handler is not None else _unchanged

    @overload
    def capture_method(self, method: F) -> F: ...
    @overload
    def capture_method(
        self,
        method: None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[[F], F]: ...
    def capture_method(
        self,
        method: F | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> F | Callable[[F], F]:
        del capture_response, capture_error
        return method if method is not None else _unchanged


def _unchanged(function: F) -> F:
    return function


def tracing_enabled() -> bool:
    """Powertools' own reading of POWERTOOLS_TRACE_DISABLED (unset: tracing on)."""
    return not resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false"))


def _tracer() -> Tracer | Untraced:
    if not tracing_enabled():
        return Untraced()
    from aws_lambda_powertools.tracing import Tracer  # imports the X-Ray SDK

    return Tracer()


class Logger(PowertoolsLogger):
    """Powertools' Logger, except that it never logs the invocation's event, whatever
    `log_event` or POWERTOOLS_LOGGER_LOG_EVENT say: an API event carries the caller's ID token
    (Authorization) and the body (the card token, email and address), a saga task's input the
    order's address. Handlers log keys (order id, code) instead (issue 11, secrets and logs)."""

    def inject_lambda_context(
        self,
        lambda_handler: Any = None,
        log_event: bool | None = None,
        correlation_id_path: str | None = None,
        clear_state: bool | None = False,
        flush_buffer_on_uncaught_error: bool = False,
    ) -> Any:
        del log_event
        return super().inject_lambda_context(
            lambda_handler,
            log_event=False,
            correlation_id_path=correlation_id_path,
            clear_state=clear_state,
            flush_buffer_on_uncaught_error=flush_buffer_on_uncaught_error,
        )


logger = Logger()
tracer = _tracer()
metrics = Metrics()
