"""What shop_shared.http decides before a handler runs, and what it lets a handler answer.

- Issue 11, finding 4: the admin group by its exact name, as API Gateway's REST Cognito
  authorizer passes `cognito:groups` (the names joined with ",", no brackets, no spaces).
- Finding 8: a body route refuses a media type it does not read (415, case-insensitive), a body
  that is not UTF-8 (400), and an admin-only route refuses a non-admin (403) before the body is
  looked at.
- Finding 9: a route answers only the statuses it documents; a domain error it did not declare
  is a bug (500), not a status its clients were never told about.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from shop_shared.errors import Conflict, NotFound
from shop_shared.http import (
    ADMIN_GROUP,
    GROUPS_SEPARATOR,
    Caller,
    create_resolver,
    current_caller,
    operation,
)
from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import raw_template

app = create_resolver()


class Widget(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=10)]


@app.put("/widgets/<name>", **operation(Conflict, ok={200: "Replaced"}, admin=True))
def put_widget(name: Annotated[str, Path(pattern=r"^[a-z]{1,10}$")], widget: Widget) -> Widget:
    if widget.name == "taken":
        raise Conflict("Widget exists")
    if widget.name == "missing":
        raise NotFound("Not declared by this route")
    return widget


@app.get("/me")
def me() -> dict[str, Any]:
    caller = current_caller(app)
    return {"admin": caller.is_admin, "groups": sorted(caller.groups)}


def event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    content_type: str | None = "application/json",
    groups: str | None = "admin",
    base64_body: bool = False,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    claims: dict[str, str] = {"sub": "user-1", "email": "user-1@example.com"}
    if groups is not None:
        claims["cognito:groups"] = groups
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": path_parameters,
        "requestContext": {
            "authorizer": {"claims": claims},
            "resourcePath": path,
            "httpMethod": method,
            "requestId": "r1",
            "stage": "v1",
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def answer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.resolve(request, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def put(body: str | None = '{"name": "a"}', **kwargs: Any) -> tuple[int, dict[str, Any]]:
    kwargs.setdefault("path_parameters", {"name": "a"})
    return answer(event("PUT", "/widgets/a", body=body, **kwargs))


# ---------------------------------------------------------------- finding 4: the admin group


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        ("admin", {"admin"}),
        ("sales,admin", {"sales", "admin"}),  # what AWS sends for the groups sales and admin
        ("admin,sales", {"admin", "sales"}),
    ],
)
def test_the_groups_are_the_names_api_gateway_joined_with_commas(
    claim: str, groups: set[str]
) -> None:
    status, body = answer(event("GET", "/me", groups=claim))

    assert status == 200
    assert body == {"admin": True, "groups": sorted(groups)}


@pytest.mark.parametrize(
    "claim",
    [
        "notadmin",
        "administrators",
        "Admin",
        "ADMIN",
        "[admin]",  # one group named "[admin]" (AWS would pass it as it is)
        "[admin, sales]",
        "sales admin",
        " admin",
        "admin ",
        "sales, admin",  # a group named " admin"
        "",
    ],
)
def test_no_other_group_name_is_admin(claim: str) -> None:
    status, body = answer(event("GET", "/me", groups=claim))

    assert status == 200
    assert body["admin"] is False


def test_a_caller_without_groups_is_not_admin() -> None:
    assert answer(event("GET", "/me", groups=None)) == (200, {"admin": False, "groups": []})


def test_caller_parses_the_claim_itself() -> None:
    assert Caller.from_claims({"sub": "s", "cognito:groups": "a,admin"}).groups == {"a", "admin"}
    assert not Caller.from_claims({"sub": "s", "cognito:groups": "a admin"}).is_admin


# ---------------------------------------------------------------- finding 8: before the body


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "Application/Json; charset=UTF-8",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "application/merge-patch+json",
    ],
)
def test_json_is_read_whatever_the_case_of_its_media_type(content_type: str) -> None:
    assert put(content_type=content_type) == (200, {"name": "a"})


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "multipart/form-data",  # without a boundary
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/json; charset=latin-1",
        "application/jsonx",
        "json",
        "",
    ],
)
def test_any_other_media_type_is_415_saying_what_to_send(content_type: str) -> None:
    status, body = put(content_type=content_type)

    assert status == 415
    assert body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in body["message"]


def test_a_body_without_a_content_type_is_read_as_json() -> None:
    assert put(content_type=None) == (200, {"name": "a"})


@pytest.mark.parametrize("raw", [b"\xa5", b'{"name": "\xff"}', b"\xed\xa0\x80"])
def test_a_body_that_is_not_utf8_is_400(raw: bytes) -> None:
    # API Gateway passes a body that is not UTF-8 text as base64
    status, body = put(body=base64.b64encode(raw).decode(), base64_body=True)

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert "UTF-8" in body["message"]


def test_a_base64_body_that_is_utf8_json_is_read() -> None:
    encoded = base64.b64encode(b'{"name": "a"}').decode()

    assert put(body=encoded, base64_body=True) == (200, {"name": "a"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"body": "not json"},
        {"body": '{"name": ""}'},
        {"body": "x", "content_type": "text/plain"},
        {"body": base64.b64encode(b"\xa5").decode(), "base64_body": True},
        {"path_parameters": {"name": "NOT VALID"}},
    ],
    ids=["not JSON", "invalid", "text/plain", "not UTF-8", "bad path parameter"],
)
@pytest.mark.parametrize("groups", [None, "sales", "sales,notadmin"])
def test_a_non_admin_is_refused_403_before_the_body_or_path_is_looked_at(
    kwargs: dict[str, Any], groups: str | None
) -> None:
    status, body = put(groups=groups, **kwargs)

    assert status == 403
    assert body["code"] == "FORBIDDEN"


def test_the_path_parameter_is_the_one_api_gateway_passed() -> None:
    # Powertools matches the route with a regex whose `$` also matches before a final newline;
    # API Gateway's pathParameters hold the whole segment, which the pattern refuses.
    status, body = answer(
        event("PUT", "/widgets/a\n", body='{"name": "a"}', path_parameters={"name": "a\n"})
    )

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- finding 9: declared statuses


def test_a_declared_domain_error_is_answered_with_its_status() -> None:
    assert put(body='{"name": "taken"}') == (409, {"message": "Widget exists", "code": "CONFLICT"})


def test_a_domain_error_the_route_did_not_declare_is_a_500() -> None:
    status, body = put(body='{"name": "missing"}')

    assert status == 500
    assert body == {"message": "Internal server error", "code": "INTERNAL_ERROR"}


def test_the_declaration_is_the_routes_openapi_responses() -> None:
    schema = app.get_openapi_schema().model_dump(mode="json", by_alias=True, exclude_none=True)
    operation_ = schema["paths"]["/widgets/{name}"]["put"]

    assert set(operation_["responses"]) == {"200", "403", "409", "422"}  # 422: Powertools'
    assert operation_["responses"]["409"]["description"].startswith("CONFLICT")
    assert operation_["responses"]["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert operation_["x-admin-only"] is True


def test_no_group_of_the_template_has_a_name_the_groups_claim_would_split() -> None:
    groups = [
        resource["Properties"]["GroupName"]
        for resource in raw_template()["Resources"].values()
        if resource["Type"] == "AWS::Cognito::UserPoolGroup"
    ]

    assert ADMIN_GROUP in groups
    assert [name for name in groups if GROUPS_SEPARATOR in name] == []


# ---------------------------------------------------------------- finding 7: CORS


SHOP_ORIGIN = "https://shop.example.com"


@pytest.fixture
def cors_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("API_CORS_ALLOW_ORIGIN", SHOP_ORIGIN)
    resolver = create_resolver()

    @resolver.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return resolver


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(SHOP_ORIGIN, SHOP_ORIGIN), ("https://evil.example", None), (None, None)],
)
def test_a_function_answers_cors_for_the_templates_origin_only(
    cors_app: Any, origin: str | None, allowed: str | None
) -> None:
    request = event("GET", "/ping")
    if origin:
        request["headers"]["Origin"] = origin
        request["multiValueHeaders"]["Origin"] = [origin]

    response = cors_app.resolve(request, FakeLambdaContext())

    headers = {k.lower(): v for k, v in response["multiValueHeaders"].items()}
    assert response["statusCode"] == 200
    assert headers.get("access-control-allow-origin") == ([allowed] if allowed else None)
    assert "access-control-allow-credentials" not in headers


def test_without_an_origin_configured_no_function_answers_cors() -> None:
    request = event("GET", "/me")
    request["headers"]["Origin"] = SHOP_ORIGIN

    response = app.resolve(request, FakeLambdaContext())

    assert "Access-Control-Allow-Origin" not in response["multiValueHeaders"]


@pytest.mark.parametrize("origin", ["*", "https://a.example,https://b.example", "null"])
def test_a_wildcard_or_list_origin_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("API_CORS_ALLOW_ORIGIN", origin)

    with pytest.raises(ValueError, match="API_CORS_ALLOW_ORIGIN"):
        create_resolver()
