"""The committed OpenAPI document (functions/api_docs/openapi.json) against the API itself:
fresh (what `make openapi` generates now), every Api event of template.yaml and nothing else,
each operation's security as the template's Auth, and an `Error` schema that the API's real
error bodies (the resolver's and the gateway's) satisfy."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.apigateway.gateway import GatewayError, render_gateway_response
from shop_shared.http import error_response
from tests.support.template import ROOT, loaded_template, raw_template
from tools.openapi import ErrorBody

DOCUMENT_PATH = ROOT / "functions" / "api_docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


def api_events() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> the Api event's properties, for every function of template.yaml."""
    found = {}
    for resource in raw_template()["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                properties = event["Properties"]
                found[(properties["Method"].upper(), properties["Path"])] = properties
    return found


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def test_the_committed_document_is_what_make_openapi_generates_now() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.openapi", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_every_api_event_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    routed = set(api_events())

    assert sorted(routed - documented) == [], "in template.yaml, missing from the document"
    assert sorted(documented - routed) == [], "in the document, not in template.yaml"
    # the docs' own routes are documented too (not excluded)
    assert {("GET", "/openapi.json"), ("GET", "/docs")} <= documented


def test_each_operation_is_secured_as_its_api_event(document: dict[str, Any]) -> None:
    default = raw_template()["Resources"]["Api"]["Properties"]["Auth"]["DefaultAuthorizer"]
    events = api_events()
    schemes = document["components"]["securitySchemes"]

    for method, path, operation in operations(document):
        authorizer = events[(method, path)].get("Auth", {}).get("Authorizer", default)
        if authorizer == "NONE":
            assert operation["security"] == [], (method, path)
            assert "401" not in operation["responses"], (method, path)
        else:
            assert operation["security"] == [{authorizer: []}], (method, path)
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
            assert schemes[authorizer] == {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": schemes[authorizer]["description"],
            }


def test_the_document_names_the_api_and_its_stage(document: dict[str, Any]) -> None:
    stage = raw_template()["Resources"]["Api"]["Properties"]["StageName"]

    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Shop API"
    assert document["servers"] == [{"url": f"/{stage}"}]


def test_every_operation_answers_a_documented_success_and_its_errors_as_error(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert successes, (method, path)
        for status in successes:
            assert responses[status]["content"], (method, path, status)
        assert "422" not in responses or "HTTPValidationError" not in json.dumps(responses)
        for status, response in responses.items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
        if operation.get("parameters") or operation.get("requestBody"):
            assert "400" in responses, (method, path)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def refs(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "$ref":
                    yield item
                else:
                    yield from refs(item)
        elif isinstance(value, list):
            for item in value:
                yield from refs(item)

    found = set(refs(document))
    assert found
    assert {ref.removeprefix("#/components/schemas/") for ref in found} <= set(schemas)


def test_list_orders_documents_its_paging(document: dict[str, Any]) -> None:
    operation = document["paths"]["/orders"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    page = document["components"]["schemas"]["OrderList"]
    item = document["components"]["schemas"]["OrderSummaryView"]

    assert (parameters["limit"]["schema"]["minimum"], parameters["limit"]["schema"]["maximum"]) == (
        1,
        100,
    )
    assert parameters["limit"]["schema"]["default"] == 20
    assert parameters["cursor"]["in"] == "query"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderList"
    }
    assert set(page["required"]) == {"items", "nextCursor"}
    assert {"orderId", "status", "totalCents", "createdAt"} <= set(item["properties"])


@pytest.mark.parametrize(
    "body",
    [
        error_response(400, "VALIDATION_ERROR", "Invalid request: x").body,
        error_response(400, "VALIDATION_ERROR", "Invalid", errors=[{"field": "f"}]).body,
        error_response(404, "NOT_FOUND", "No such order").body,
    ],
    ids=["plain", "with details", "domain error"],
)
def test_the_resolvers_error_bodies_are_error(body: dict[str, Any]) -> None:
    ErrorBody.model_validate(body)


def test_the_gateways_error_bodies_are_error() -> None:
    (api,) = _apis()
    for response_type in api.gateway_responses:
        error = GatewayError(response_type, 'Unauthorized "token"', status=401)
        _, body = render_gateway_response(error, api.gateway_responses, "request-1")
        ErrorBody.model_validate(json.loads(body))


def _apis() -> list[Any]:
    template = loaded_template()
    template.register_function_identities()
    return template.apis()


# ---------------------------------------------------------------- issue 11, finding 9


def responses_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method.lower()]["responses"]
    return responses


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("POST", "/orders/{orderId}/cancel", {"202", "404", "409", "503"}),
        ("POST", "/customers", {"201", "403", "409", "422"}),
        ("GET", "/customers/me", {"200", "404"}),
        ("GET", "/orders/{orderId}", {"200", "404"}),
        ("GET", "/orders/{orderId}/details", {"200", "404"}),
        ("GET", "/products/{sku}", {"200", "404"}),
        ("PUT", "/products/{sku}", {"200", "201", "403", "503"}),
        ("POST", "/orders", {"202", "409", "422", "429"}),
    ],
)
def test_what_the_handlers_answer_is_documented(
    document: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    documented = responses_of(document, method, path)

    assert statuses <= set(documented), sorted(statuses - set(documented))


def test_cancel_documents_202_and_not_200(document: dict[str, Any]) -> None:
    documented = responses_of(document, "POST", "/orders/{orderId}/cancel")

    assert "202" in documented
    assert "200" not in documented
    assert documented["202"]["content"]["application/json"]["schema"]


def test_the_gateways_answers_are_documented_on_every_route_behind_the_authorizer(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "429" in responses, (method, path)
        assert "500" in responses, (method, path)
        if operation["security"]:
            assert {"401", "403"} <= set(responses), (method, path)
        if operation.get("requestBody"):
            assert "415" in responses, (method, path)


def test_the_web_acls_block_is_documented_on_every_route(document: dict[str, Any]) -> None:
    # The template's web ACL (WebAcl, on the stage) answers 403 to a client IP over its rate
    # limit on any route, public ones included (issue 11, finding 5).
    for method, path, operation in operations(document):
        assert "WAF" in operation["responses"]["403"]["description"], (method, path)


def test_the_per_customer_order_limit_is_documented_with_retry_after(
    document: dict[str, Any],
) -> None:
    too_many = responses_of(document, "POST", "/orders")["429"]

    assert "TOO_MANY_ORDERS" in too_many["description"]
    assert "THROTTLED" in too_many["description"]
    assert too_many["headers"]["Retry-After"]["schema"]["pattern"] == "^[0-9]+$"


def test_the_admin_only_route_says_so(document: dict[str, Any]) -> None:
    upsert = document["paths"]["/products/{sku}"]["put"]

    assert upsert["x-admin-only"] is True
    assert "FORBIDDEN" in upsert["responses"]["403"]["description"]
    assert all(
        "x-admin-only" not in operation
        for method, path, operation in operations(document)
        if (method, path) != ("PUT", "/products/{sku}")
    )


def test_the_address_country_is_documented_as_the_server_checks_it(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    register = document["paths"]["/customers"]["post"]["requestBody"]["content"]
    body = schemas[register["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    address = schemas[body["properties"]["address"]["$ref"].rsplit("/", 1)[1]]
    country = address["properties"]["country"]

    assert country["pattern"] == "^[A-Z]{2}$"
    assert "DE" in country["enum"]
    assert "XX" not in country["enum"]
    assert len(country["enum"]) == 249


def test_every_schema_speaks_json_schema_not_pydantic(document: dict[str, Any]) -> None:
    # pydantic writes a constraint it could not place as its own keyword ("gt": 0 instead of
    # "exclusiveMinimum": 0), which no client reads: Schemathesis found PUT /products'
    # priceCents documented without its bounds that way
    pydantic_only = {"gt", "ge", "lt", "le", "strict", "allow_inf_nan", "max_digits"}

    def keys(value: Any, where: str) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in pydantic_only:
                    yield f"{where}.{key}"
                if key not in ("properties", "examples", "enum", "const"):
                    yield from keys(item, f"{where}.{key}")
                else:
                    yield from (
                        found
                        for name, sub in (item.items() if isinstance(item, dict) else [])
                        for found in keys(sub, f"{where}.{key}.{name}")
                    )
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from keys(item, f"{where}[{index}]")

    assert list(keys(document, "#")) == []
