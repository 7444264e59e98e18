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
