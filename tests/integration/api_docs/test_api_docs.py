"""GET /v1/openapi.json and GET /v1/docs: api_docs.handler in-process (no AWS calls)."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.support.template import ROOT

DOCUMENT = ROOT / "functions" / "api_docs" / "openapi.json"


@pytest.fixture
def api_docs(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api_docs")
    sys.modules.pop("api_docs", None)
    return importlib.import_module("api_docs")


def get(path: str) -> dict[str, Any]:
    """The sample event (GET /openapi.json, no token), for `path`."""
    event: dict[str, Any] = copy.deepcopy(
        json.loads((ROOT / "events" / "api_docs.json").read_text())
    )
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = f"/v1{path}"
    return event


def header(response: dict[str, Any], name: str) -> str:
    (value,) = response["multiValueHeaders"][name]
    return str(value)


def test_the_document_is_served_as_committed(api_docs: ModuleType, lambda_context: Any) -> None:
    # When GET /openapi.json arrives (the sample event, no token)
    response = api_docs.handler(get("/openapi.json"), lambda_context)

    # Then it is the committed document, byte for byte, cacheable for a while
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Cache-Control") == "max-age=300"
    assert response["body"] == DOCUMENT.read_text(encoding="utf-8")
    assert json.loads(response["body"])["info"]["title"] == "Shop API"


def test_swagger_ui_shows_the_document_and_needs_nothing_from_the_internet(
    api_docs: ModuleType, lambda_context: Any
) -> None:
    response = api_docs.handler(get("/docs"), lambda_context)

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html"
    page = response["body"]
    assert page.startswith("<!DOCTYPE html>")
    assert "SwaggerUIBundle(swaggerUIOptions)" in page
    # the document is inlined with `</` escaped, so it can't end the script early
    spec = DOCUMENT.read_text(encoding="utf-8").replace("</", "<\\/")
    assert f"spec: {spec}" in page
    # the script and styles are inlined (Powertools' bundled copies), not fetched from a CDN
    assert "<script src=" not in page
    assert "<link rel='stylesheet'" not in page


def test_any_other_path_is_a_json_404(api_docs: ModuleType, lambda_context: Any) -> None:
    response = api_docs.handler(get("/docs/nothing-here"), lambda_context)

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": "No such route", "code": "NOT_FOUND"}


def test_swagger_ui_forgets_the_token_when_the_page_is_closed(
    api_docs: ModuleType, lambda_context: Any
) -> None:
    # Issue 11, finding 7: a token pasted into "Authorize" is not kept in the browser's
    # localStorage, where any script of the page's origin could read it after a reload
    page = api_docs.handler(get("/docs"), lambda_context)["body"]

    assert "persistAuthorization: false" in page
    assert "persistAuthorization: true" not in page
