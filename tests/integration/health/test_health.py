"""GET /v1/health: health.handler in-process (no AWS calls)."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from tests.support.template import ROOT


@pytest.fixture
def health(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The handler module imported with STAGE set (settings are read at import)."""
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "health")
    sys.modules.pop("health", None)
    return importlib.import_module("health")


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return event


def test_health_answers_ok_with_stage_and_time(health: ModuleType, lambda_context: Any) -> None:
    # Given the function runs in the prod stage
    # When GET /health arrives (the sample event)
    response = health.handler(sample("health"), lambda_context)

    # Then it answers 200 ok, naming the stage, with the current UTC time
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert {key: body[key] for key in ("status", "service", "stage")} == {
        "status": "ok",
        "service": "shop",
        "stage": "prod",
    }
    time = datetime.fromisoformat(body["time"])
    assert time.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - time) < timedelta(seconds=5)


def test_an_unknown_route_is_404_in_the_api_error_shape(
    health: ModuleType, lambda_context: Any
) -> None:
    event = sample("health")
    event["path"] = event["resource"] = "/nope"

    response = health.handler(event, lambda_context)

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": "No such route", "code": "NOT_FOUND"}


def test_a_missing_stage_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAGE", raising=False)
    sys.modules.pop("health", None)

    with pytest.raises(ValueError, match="STAGE"):
        importlib.import_module("health")
