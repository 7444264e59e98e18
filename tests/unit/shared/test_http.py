"""The one mapping from errors to HTTP: typed errors, invalid input, unknown routes, bugs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from shop_shared.errors import Conflict, NotFound
from shop_shared.http import create_resolver, current_caller, operation
from tests.support.lambda_context import FakeLambdaContext

app = create_resolver()


class Widget(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=10)]
    count: Annotated[int, Field(gt=0)]


@app.post("/widgets", **operation(Conflict))
def create_widget(widget: Widget) -> dict[str, Any]:
    if widget.name == "taken":
        raise Conflict("Widget exists", name=widget.name)
    if widget.name == "boom":
        raise RuntimeError("a bug, with a secret in its message")
    return {"name": widget.name, "admin": current_caller(app).is_admin}


@app.get("/widgets/<name>", **operation(NotFound))
def get_widget(name: str) -> dict[str, Any]:
    raise NotFound(f"No widget {name}")


def request(
    method: str,
    path: str,
    body: Any = None,
    groups: str = "",
    content_type: str = "application/json",
) -> tuple[int, Any]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "authorizer": {"claims": {"sub": "user-1", "cognito:groups": groups}},
            "resourcePath": path,
            "httpMethod": method,
            "requestId": "r1",
            "stage": "v1",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    response = app.resolve(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_valid_request_passes_and_sees_the_caller() -> None:
    assert request("POST", "/widgets", {"name": "a", "count": 1}, groups="admin") == (
        200,
        {"name": "a", "admin": True},
    )


@pytest.mark.parametrize(
    "body",
    [{"name": "", "count": 1}, {"name": "a", "count": 0}, {"name": "a"}, "not an object", None],
)
def test_invalid_input_is_400_with_message_and_code(body: Any) -> None:
    status, answer = request("POST", "/widgets", body)

    assert status == 400
    assert answer["code"] == "VALIDATION_ERROR"
    assert answer["message"].startswith("Invalid request")


def test_domain_errors_carry_their_status_and_code() -> None:
    assert request("POST", "/widgets", {"name": "taken", "count": 1}) == (
        409,
        {"message": "Widget exists", "code": "CONFLICT"},
    )
    assert request("GET", "/widgets/x") == (404, {"message": "No widget x", "code": "NOT_FOUND"})


def test_unknown_route_is_404_json() -> None:
    assert request("GET", "/nothing") == (404, {"message": "No such route", "code": "NOT_FOUND"})


def test_a_bug_is_500_without_its_details() -> None:
    status, answer = request("POST", "/widgets", {"name": "boom", "count": 1})

    assert status == 500
    assert answer == {"message": "Internal server error", "code": "INTERNAL_ERROR"}


def test_a_json_body_sent_as_a_form_is_415_saying_what_to_send() -> None:
    status, answer = request(
        "POST",
        "/widgets",
        {"name": "a", "count": 1},
        content_type="application/x-www-form-urlencoded",
    )

    assert status == 415
    assert answer["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in answer["message"]
