"""The tracer is Powertools' (X-Ray SDK) only where POWERTOOLS_TRACE_DISABLED lets it be."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from shop_shared.models import ShopModel
from shop_shared.observability import Untraced, tracing_enabled


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"seen": event}


def test_untraced_decorators_return_the_function_itself() -> None:
    # Given the tracer a function gets with tracing off
    tracer = Untraced()
    # When its decorators are applied bare and with arguments
    bare = tracer.capture_lambda_handler(handler)
    with_arguments = tracer.capture_lambda_handler(capture_response=False)(handler)
    method = tracer.capture_method(capture_response=False)(handler)
    # Then the handler is unchanged and answers as before
    assert bare is handler
    assert with_arguments is handler
    assert method is handler
    assert bare({"a": 1}, None) == {"seen": {"a": 1}}


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("false", True), ("true", False), ("1", False)],
)
def test_tracing_follows_powertools_switch(
    monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool
) -> None:
    if value is None:
        monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    else:
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", value)
    assert tracing_enabled() is enabled


@pytest.mark.parametrize(("value", "sdk_imported"), [("true", False), ("false", True)])
def test_the_xray_sdk_is_imported_only_with_tracing_on(value: str, sdk_imported: bool) -> None:
    # Given a fresh interpreter with the switch set, When shop_shared.observability is imported
    probe = (
        "import sys, shop_shared.observability as o;"
        "print(type(o.tracer).__name__, 'aws_xray_sdk.core' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={
            "POWERTOOLS_TRACE_DISABLED": value,
            "PYTHONPATH": ":".join(sys.path),
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    # Then the X-Ray SDK is loaded only when tracing is on
    tracer_type, imported = result.stdout.split()
    assert tracer_type == ("Tracer" if sdk_imported else "Untraced")
    assert imported == str(sdk_imported)


class Line(ShopModel):
    sku: str
    quantity: int


def test_a_shop_model_builds_its_validator_on_first_use() -> None:
    # Given a ShopModel subclass that has not been used yet, Then it is not built
    assert Line.__pydantic_complete__ is False
    # When it validates, Then it is built and validates as any model does
    assert Line.model_validate({"sku": "A", "quantity": 2}) == Line(sku="A", quantity=2)
    assert Line.__pydantic_complete__ is True
    with pytest.raises(ValueError, match="quantity"):
        Line.model_validate({"sku": "A", "quantity": "two"})


@pytest.mark.parametrize("asked", [None, True])
def test_the_logger_never_logs_the_event_even_when_event_logging_is_on(
    monkeypatch: pytest.MonkeyPatch, asked: bool | None
) -> None:
    import io
    import logging

    from shop_shared.observability import Logger
    from tests.support.lambda_context import FakeLambdaContext

    # Given Powertools' event logging switched on, and a handler that logs a key
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    out = io.StringIO()
    service = f"secrecy-{asked}"  # Powertools keeps one logging.Logger per service name
    logger = Logger(service=service, level="DEBUG", logger_handler=logging.StreamHandler(out))

    @logger.inject_lambda_context(log_event=asked)
    def handle(event: dict[str, Any], context: object) -> str:
        logger.info("handled", extra={"order_id": "o-1"})
        return "ok"

    # When an API event with a token and personal data arrives
    event = {
        "headers": {"Authorization": "Bearer eyJ.secret-token.sig"},
        "body": '{"email": "erika@example.com", "paymentToken": "tok_visa"}',
    }
    assert handle(event, FakeLambdaContext()) == "ok"

    # Then the handler's own line is logged, the event is not
    lines = out.getvalue()
    assert '"order_id":"o-1"' in lines.replace(" ", "")
    assert "secret-token" not in lines
    assert "erika@example.com" not in lines
    assert "tok_visa" not in lines
