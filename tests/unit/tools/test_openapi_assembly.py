"""tools.openapi.assemble on small made-up resolver schemas: routes held to the template, the
API's errors instead of Powertools' 422, name clashes between functions' schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import OpenAPIMergeError

from tools.openapi import ApiFunction, DocumentError, Route, assemble

ERROR_REF = {"$ref": "#/components/schemas/Error"}
POWERTOOLS_422 = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}
VALIDATION_SCHEMAS = {
    "HTTPValidationError": {
        "type": "object",
        "properties": {
            "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}
        },
    },
    "ValidationError": {"type": "object"},
}


def function(logical_id: str, service: str, *routes: Route) -> ApiFunction:
    return ApiFunction(
        logical_id=logical_id,
        handler=f"{logical_id.lower()}.handler",
        service=service,
        description=f"{logical_id} does its thing",
        pythonpath="",
        environment={},
        routes=routes,
    )


def schema(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {"schemas": {**VALIDATION_SCHEMAS, **schemas}},
    }


def operation(response_ref: str, **extra: Any) -> dict[str, Any]:
    return {
        "operationId": response_ref.lower(),
        "responses": {
            "422": copy.deepcopy(POWERTOOLS_422),
            "200": {
                "description": "Successful Response",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{response_ref}"}}
                },
            },
        },
        **extra,
    }


PRODUCT = {"type": "object", "properties": {"sku": {"type": "string"}}}
PRODUCT_V2 = {"type": "object", "properties": {"id": {"type": "integer"}}}
BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Product"}}}}


def test_operations_get_the_apis_errors_and_security_instead_of_the_422() -> None:
    # Given a public GET and an admin PUT, each with Powertools' 422
    get = function("GetProductFunction", "inventory", Route("GET", "/products/{sku}", None))
    put = function("UpsertProductFunction", "inventory", Route("PUT", "/products/{sku}", "Cognito"))
    documented = [
        (get, schema({"/products/{sku}": {"get": operation("Product")}}, {"Product": PRODUCT})),
        (
            put,
            schema(
                {"/products/{sku}": {"put": operation("Product", requestBody=BODY)}},
                {"Product": PRODUCT},
            ),
        ),
    ]

    # When they are assembled
    document = assemble(documented, stage="v1", version="9")

    # Then each answers the API's Error instead of the 422, secured as the template says
    item = document["paths"]["/products/{sku}"]
    assert sorted(item["get"]["responses"]) == ["200", "429", "500"]
    assert sorted(item["put"]["responses"]) == ["200", "400", "401", "403", "415", "429", "500"]
    assert item["put"]["responses"]["401"]["content"]["application/json"]["schema"] == ERROR_REF
    assert (item["get"]["security"], item["put"]["security"]) == ([], [{"Cognito": []}])
    assert item["get"]["tags"] == ["inventory"]
    assert item["get"]["description"] == "GetProductFunction does its thing"
    # and the 422's schemas, used by nothing now, are gone
    assert sorted(document["components"]["schemas"]) == ["Error", "Product"]
    assert document["components"]["securitySchemes"]["Cognito"]["type"] == "apiKey"
    assert document["servers"] == [{"url": "/v1"}]
    assert document["info"]["version"] == "9"
    assert document["tags"] == [{"name": "inventory"}]


def test_a_declared_422_is_kept() -> None:
    reused = {
        "description": "Idempotency-Key reused",
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    op = operation("Product")
    op["responses"]["422"] = reused
    post = function("PlaceFunction", "orders", Route("POST", "/orders", "Cognito"))

    document = assemble(
        [(post, schema({"/orders": {"post": op}}, {"Product": PRODUCT}))], stage="v1", version="1"
    )

    assert document["paths"]["/orders"]["post"]["responses"]["422"] == reused


def test_two_different_schemas_under_one_name_are_both_kept_apart() -> None:
    # Given two functions whose resolvers each call a different schema "Product"
    first = function("AFunction", "a", Route("GET", "/a", None))
    second = function("BFunction", "b", Route("GET", "/b", None))
    wrapper = {"type": "object", "properties": {"p": {"$ref": "#/components/schemas/Product"}}}
    documented = [
        (
            first,
            schema({"/a": {"get": operation("Wrapper")}}, {"Product": PRODUCT, "Wrapper": wrapper}),
        ),
        (
            second,
            schema(
                {"/b": {"get": operation("Wrapper")}}, {"Product": PRODUCT_V2, "Wrapper": wrapper}
            ),
        ),
    ]

    # When assembled
    document = assemble(documented, stage="v1", version="1")

    # Then the second function's schemas (and what refers to them) carry its name
    schemas = document["components"]["schemas"]
    assert schemas["Product"] == PRODUCT
    assert schemas["BProduct"] == PRODUCT_V2
    assert schemas["BWrapper"]["properties"]["p"] == {"$ref": "#/components/schemas/BProduct"}
    b_response = document["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]
    assert b_response["schema"] == {"$ref": "#/components/schemas/BWrapper"}
    a_response = document["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]
    assert a_response["schema"] == {"$ref": "#/components/schemas/Wrapper"}


def test_the_same_schema_from_two_functions_is_kept_once() -> None:
    first = function("AFunction", "a", Route("GET", "/a", None))
    second = function("BFunction", "b", Route("GET", "/b", None))
    documented = [
        (first, schema({"/a": {"get": operation("Product")}}, {"Product": PRODUCT})),
        (second, schema({"/b": {"get": operation("Product")}}, {"Product": PRODUCT})),
    ]

    document = assemble(documented, stage="v1", version="1")

    assert sorted(document["components"]["schemas"]) == ["Error", "Product"]


@pytest.mark.parametrize(
    ("routes", "paths"),
    [
        (
            (Route("GET", "/a", None), Route("DELETE", "/a", None)),
            {"/a": {"get": operation("Product")}},
        ),
        (
            (Route("GET", "/a", None),),
            {"/a": {"get": operation("Product"), "put": operation("Product")}},
        ),
    ],
    ids=["a routed method the resolver lacks", "a resolver route the template does not route"],
)
def test_the_resolver_and_the_template_must_agree(
    routes: tuple[Route, ...], paths: dict[str, Any]
) -> None:
    with pytest.raises(DocumentError, match="AFunction"):
        assemble(
            [(function("AFunction", "a", *routes), schema(paths, {"Product": PRODUCT}))],
            stage="v1",
            version="1",
        )


def test_one_method_and_path_in_two_functions_is_an_error() -> None:
    first = function("AFunction", "a", Route("GET", "/a", None))
    second = function("BFunction", "b", Route("GET", "/a", None))
    paths = {"/a": {"get": operation("Product")}}

    with pytest.raises(OpenAPIMergeError, match="GET /a"):
        assemble(
            [
                (first, schema(paths, {"Product": PRODUCT})),
                (second, schema(paths, {"Product": PRODUCT})),
            ],
            stage="v1",
            version="1",
        )
