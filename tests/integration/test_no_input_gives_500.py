"""No input gives a 500: hostile requests at every API handler of template.yaml, in-process.

Every function with an Api event is found in the template, imported with the environment the
template gives it, on moto with every resource of the template created (localcloud's
provisioner), and sent a table of hostile inputs: a broken or missing body, wrong JSON types,
each field of its sample body replaced by values no field accepts (huge strings, nested
objects, control characters, lone surrogates, numbers out of any range, NaN), and each path,
query and header parameter of its OpenAPI operation replaced by garbage. Each must answer 4xx
with a JSON body carrying `message` and `code`. Inputs that may well be valid for some field
(null, a missing key, unicode text) must answer below 500, and carry `message` and `code` when
they are refused.

A handler added to the template is covered without touching this file.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.awsclients import AwsClients
from localcloud.cloudformation.provision import Provisioner
from localcloud.cloudformation.template import Template
from localcloud.spec import REGION, ApiRoute
from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import ROOT, loaded_template

# ---------------------------------------------------------------- the hostile table

HUGE = "x" * 100_000
BASE_IDEMPOTENCY_KEY = "base-key"
DEEP = 100_000

RAW_BODIES: dict[str, str | None] = {
    "missing body": None,
    "empty body": "",
    "blank body": "   \n ",
    "truncated JSON": '{"items": [{"sku": "KB-001"',
    "not JSON": "hello, world",
    "JSON null": "null",
    "JSON array": "[]",
    "JSON string": '"a string"',
    "JSON number": "-1",
    "JSON true": "true",
    "NaN": "NaN",
    "empty object": "{}",
    "deeply nested arrays": "[" * DEEP + "]" * DEEP,
    "deeply nested objects": '{"a":' * DEEP + "1" + "}" * DEEP,
    "huge JSON string": json.dumps("x" * 2_000_000),
    "object with 50,000 keys": json.dumps({f"k{i}": i for i in range(50_000)}),
    "lone surrogate key": '{"\\ud800": 1}',
    "NUL bytes": "\u0000" * 100,
    "form encoded": "name=x&price=1",
}

# No field of any request accepts these: each replaces one field (leaf or container) in turn.
ALWAYS_INVALID: dict[str, Any] = {
    "huge string": HUGE,
    "empty string": "",
    "NUL": "\u0000",
    "control characters": "a\u0007b\u001b[2Jc",
    "lone surrogate": "\ud800",
    "newline in text": "line\nbreak",
    "object": {"$ne": None},
    "nested list": [[["deep"]]],
    "-1": -1,
    "10**40": 10**40,
    "-(10**40)": -(10**40),
    "float": 1.5,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "true": True,
}

# May be valid for some fields (an optional one, free text): must not be a 500.
MAYBE_VALID: dict[str, Any] = {
    "null": None,
    "zero": 0,
    "unicode text": "Zoë Ñandú 名前 🚀",
    "right-to-left override": "\u202eevil",
    "zero-width space": "a\u200bb",
    "combining marks": "e\u0301\u0301\u0301",
    "SQL-ish": "' OR '1'='1",
    "markup": "<script>alert(1)</script>",
}

# Path, query and header parameters: none of these is a valid value of any of them.
BAD_PARAMETERS: dict[str, str] = {
    "huge": "x" * 10_000,
    "emoji": "🚀🚀",
    "NUL": "\u0000",
    "lone surrogate": "\ud800",
    "spaces": "   ",
    "SQL-ish": "' OR '1'='1",
    "markup": "<script>",
    "JSON object": '{"$ne":null}',
    "traversal": "../../etc/passwd",
    "percent": "%00%ff",
}
# Issue 11, finding 8: each of these answered 500 on every route with a body.
REFUSED_MEDIA_TYPES = (
    "text/plain",
    "application/xml",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
)
JSON_MEDIA_TYPES = ("APPLICATION/JSON", "application/json; charset=utf-8", "Application/Json")
# Query parameters also get these (a header like Idempotency-Key may legitimately be "-1").
BAD_QUERY_ONLY: dict[str, str] = {"-1": "-1", "null": "null", "1e309": "1e309", "[]": "[]"}


# ---------------------------------------------------------------- the routes, from the template


def _template() -> Template:
    template = loaded_template()
    template.register_function_identities()
    return template


def api_routes() -> list[ApiRoute]:
    return sorted(
        (route for api in _template().apis() for route in api.routes),
        key=lambda r: (r.path, r.method),
    )


ROUTES = api_routes()


class InProcessClients(AwsClients):
    """localcloud's clients, on the in-process moto instead of its endpoint."""

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Template]:
    """Every resource of the template in one moto, as localcloud creates them."""
    with mock_aws():
        template = loaded_template()
        Provisioner(template, InProcessClients("")).create_all()
        yield template


def import_handler(template: Template, route: ApiRoute, env: pytest.MonkeyPatch) -> ModuleType:
    spec = template.functions()[route.function]
    for name, value in spec.environment.items():
        env.setenv(name, value)
    module_name = spec.handler.rsplit(".", 1)[0]
    sys.modules.pop(module_name, None)  # settings and clients are read at import
    return importlib.import_module(module_name)


# ---------------------------------------------------------------- requests


@dataclass
class Operation:
    """What the route's OpenAPI operation declares."""

    path_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    query_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    header_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    body_schema: dict[str, Any] | None = None
    components: dict[str, Any] = field(default_factory=dict)


def operation_of(module: ModuleType, route: ApiRoute) -> Operation:
    schema = module.app.get_openapi_schema().model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    powertools_path = route.path  # OpenAPI paths use {name}, like the template
    op = schema["paths"][powertools_path][route.method.lower()]
    found = Operation(components=schema.get("components", {}).get("schemas", {}))
    by_location = {
        "path": found.path_parameters,
        "query": found.query_parameters,
        "header": found.header_parameters,
    }
    for parameter in op.get("parameters", []):
        by_location[parameter["in"]][parameter["name"]] = parameter.get("schema", {})
    body = op.get("requestBody")
    if body:
        found.body_schema = body["content"]["application/json"]["schema"]
    return found


def sample_of(route: ApiRoute, template: Template) -> dict[str, Any]:
    module_name = template.functions()[route.function].handler.rsplit(".", 1)[0]
    path = ROOT / "events" / f"{module_name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def base_request(route: ApiRoute, sample: dict[str, Any], operation: Operation) -> dict[str, Any]:
    """A valid-looking request for the route: the sample's parameters and body, a fresh caller
    in the admin group (so admin-only routes validate as deep as they go)."""
    same_route = sample.get("resource") == route.path and sample.get("httpMethod") == route.method
    path_parameters = dict((sample.get("pathParameters") or {}) if same_route else {})
    for name in operation.path_parameters:
        path_parameters.setdefault(name, str(uuid.uuid4()))
    body = sample.get("body") if same_route else None
    if operation.body_schema is not None and not body:
        body = "{}"
    sub = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if operation.header_parameters:
        headers.update((sample.get("headers") or {}) if same_route else {})
        headers["Idempotency-Key"] = BASE_IDEMPOTENCY_KEY  # made fresh for each case
    request = {
        "resource": route.path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": route.method,
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "hostile/1.0"},
            "authorizer": {
                "claims": {
                    "sub": sub,
                    # the account's verified email: the one the sample body names, if any
                    "email": sample_email(body) or f"{sub}@example.com",
                    "email_verified": "true",
                    "cognito:groups": "admin",
                    "cognito:username": sub,
                }
            },
        },
        "body": body,
        "isBase64Encoded": False,
    }
    return with_path(request, route, path_parameters)


def sample_email(body: str | None) -> str | None:
    try:
        email = json.loads(body or "").get("email")
    except (ValueError, AttributeError):
        return None
    return email if isinstance(email, str) else None


def with_path(
    request: dict[str, Any], route: ApiRoute, parameters: dict[str, str]
) -> dict[str, Any]:
    path = route.path
    for name, value in parameters.items():
        path = path.replace("{" + name + "}", value)
    request["path"] = path
    request["requestContext"]["path"] = f"/v1{path}"
    request["pathParameters"] = parameters or None
    return request


def fresh_caller(request: dict[str, Any]) -> dict[str, Any]:
    """A new caller, request id and Idempotency-Key for each case, so no earlier case's data
    (a profile already registered, a replayed answer) hides what this input would do."""
    sub = str(uuid.uuid4())
    context = request["requestContext"]
    context["requestId"] = str(uuid.uuid4())
    context["authorizer"]["claims"].update({"sub": sub, "cognito:username": sub})
    if request["headers"].get("Idempotency-Key") == BASE_IDEMPOTENCY_KEY:
        key = uuid.uuid4().hex
        request["headers"]["Idempotency-Key"] = key
        request["multiValueHeaders"]["Idempotency-Key"] = [key]
    return request


@dataclass
class Case:
    name: str
    request: dict[str, Any]
    must_refuse: bool  # 4xx required; otherwise anything below 500 will do


def body_cases(base: dict[str, Any], operation: Operation) -> Iterator[Case]:
    if operation.body_schema is None:
        return
    for name, raw in RAW_BODIES.items():
        yield Case(f"body: {name}", {**copy.deepcopy(base), "body": raw}, must_refuse=True)
    yield Case(
        "body: base64 that is not base64",
        {**copy.deepcopy(base), "body": "%%%not base64%%%", "isBase64Encoded": True},
        must_refuse=True,
    )
    not_utf8 = base64.b64encode(b"\xa5").decode()  # API Gateway passes such a body as base64
    yield Case(
        "body: not UTF-8",
        {**copy.deepcopy(base), "body": not_utf8, "isBase64Encoded": True},
        must_refuse=True,
    )
    for media_type in REFUSED_MEDIA_TYPES:
        yield Case(f"Content-Type: {media_type}", with_media_type(base, media_type), True)
    for media_type in JSON_MEDIA_TYPES:  # the valid body: accepted, whatever the case
        yield Case(f"Content-Type: {media_type}", with_media_type(base, media_type), False)
    sample = json.loads(base["body"])
    for location in leaves_and_containers(sample):
        label = "/".join(str(part) for part in location) or "<root>"
        for name, value in ALWAYS_INVALID.items():
            yield Case(f"{label} = {name}", replaced(base, location, value), must_refuse=True)
        for name, value in MAYBE_VALID.items():
            yield Case(f"{label} = {name}", replaced(base, location, value), must_refuse=False)
        if location:
            yield Case(f"{label} missing", removed(base, location), must_refuse=False)
        yield Case(
            f"{label} with an unknown key",
            replaced(base, location, {"unexpected": 1}),
            must_refuse=True,
        )
    yield Case(
        "<root> with an unknown key",
        {**copy.deepcopy(base), "body": json.dumps({**sample, "unexpected": "field"})},
        must_refuse=True,
    )


def with_media_type(base: dict[str, Any], media_type: str) -> dict[str, Any]:
    request = copy.deepcopy(base)
    header = next(h for h in request["headers"] if h.lower() == "content-type")
    request["headers"][header] = media_type
    request["multiValueHeaders"][header] = [media_type]
    return request


def leaves_and_containers(value: Any, location: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if location:
        yield location
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves_and_containers(child, (*location, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves_and_containers(child, (*location, index))


def _edited(base: dict[str, Any], location: tuple[Any, ...], edit: Any) -> dict[str, Any]:
    body = json.loads(base["body"])
    parent = body
    for part in location[:-1]:
        parent = parent[part]
    edit(parent, location[-1])
    return {**copy.deepcopy(base), "body": json.dumps(body)}


def replaced(base: dict[str, Any], location: tuple[Any, ...], value: Any) -> dict[str, Any]:
    def put(parent: Any, key: Any) -> None:
        parent[key] = value

    return _edited(base, location, put)


def removed(base: dict[str, Any], location: tuple[Any, ...]) -> dict[str, Any]:
    def drop(parent: Any, key: Any) -> None:
        del parent[key]

    return _edited(base, location, drop)


def parameter_cases(base: dict[str, Any], route: ApiRoute, operation: Operation) -> Iterator[Case]:
    for parameter in operation.path_parameters:
        for name, value in BAD_PARAMETERS.items():
            request = copy.deepcopy(base)
            parameters = {**(request["pathParameters"] or {}), parameter: value}
            yield Case(f"path {parameter} = {name}", with_path(request, route, parameters), True)
    for parameter in operation.query_parameters:
        for name, value in {**BAD_PARAMETERS, **BAD_QUERY_ONLY}.items():
            request = copy.deepcopy(base)
            request["queryStringParameters"] = {parameter: value}
            request["multiValueQueryStringParameters"] = {parameter: [value]}
            yield Case(f"query {parameter} = {name}", request, must_refuse=True)
        request = copy.deepcopy(base)
        request["queryStringParameters"] = {parameter: "1"}
        request["multiValueQueryStringParameters"] = {parameter: ["1", "x" * 5000]}
        yield Case(f"query {parameter} given twice", request, must_refuse=False)
    for parameter in operation.header_parameters:
        for name, value in BAD_PARAMETERS.items():
            request = copy.deepcopy(base)
            header = next((h for h in request["headers"] if h.lower() == parameter), parameter)
            request["headers"][header] = value
            request["multiValueHeaders"][header] = [value]
            yield Case(f"header {parameter} = {name}", request, must_refuse=True)


# ---------------------------------------------------------------- the test


def problem(case: Case, response: dict[str, Any]) -> str | None:
    """What is wrong with the handler's answer to the case, or None."""
    status = response.get("statusCode")
    if not isinstance(status, int) or status >= 500:
        return f"{status}: {str(response.get('body'))[:200]}"
    if case.must_refuse and status < 400:
        return f"accepted with {status}"
    if status >= 400:
        try:
            body = json.loads(response["body"])
        except (TypeError, ValueError):
            return f"{status} without a JSON body"
        if not (isinstance(body, dict) and body.get("message") and body.get("code")):
            return f"{status} without message and code: {str(body)[:200]}"
    return None


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_no_hostile_input_gives_a_500(cloud: Template, route: ApiRoute) -> None:
    with pytest.MonkeyPatch.context() as env:
        # Given the handler, as Lambda would start it, and a valid-looking request
        module = import_handler(cloud, route, env)
        operation = operation_of(module, route)
        base = base_request(route, sample_of(route, cloud), operation)
        cases = [*body_cases(base, operation), *parameter_cases(base, route, operation)]
        accepted = module.handler(fresh_caller(copy.deepcopy(base)), FakeLambdaContext())
        if operation.body_schema is not None:  # so each refusal is the hostile part's doing
            assert accepted["statusCode"] < 300, accepted
        else:
            assert accepted["statusCode"] < 500, accepted

        # When each hostile variant is sent
        problems = []
        for case in cases:
            try:
                response = module.handler(fresh_caller(case.request), FakeLambdaContext())
            except Exception as error:  # a crash is what a 500 from Lambda would be
                problems.append(f"{case.name}: raised {type(error).__name__}: {error}"[:300])
                continue
            found = problem(case, response)
            if found:
                problems.append(f"{case.name}: {found}")

    # Then none was a 500, each refusal was a 4xx with message and code
    assert not problems, f"{len(problems)} of {len(cases)} inputs:\n" + "\n".join(problems)


def test_every_api_route_of_the_template_is_covered() -> None:
    covered = {(route.method, route.path) for route in ROUTES}

    assert {
        ("GET", "/health"),
        ("POST", "/customers"),
        ("GET", "/customers/me"),
        ("GET", "/products"),
        ("GET", "/products/{sku}"),
        ("PUT", "/products/{sku}"),
        ("POST", "/orders"),
        ("GET", "/orders/{orderId}"),
    } <= covered
