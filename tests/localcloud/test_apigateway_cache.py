"""localcloud's API Gateway stage cache, on the API template.yaml declares (Stage=prod turns the
cache on): what is cached, for how long, under which key, and who may bypass it.

The Lambda runtime is replaced by a scripted Invoker that counts calls and answers with a
fresh body each time, so a cached answer is told apart from a new one; the Cognito verifier
by a stand-in that reads the caller from the token (the authorizer has its own tests in
test_apigateway.py). What is under test is the gateway's cache.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request

from localcloud.apigateway.cache import (
    FAIL_WITH_403,
    SUCCEED_WITHOUT_RESPONSE_HEADER,
    UNAUTHORIZED_WARNING,
)
from localcloud.apigateway.gateway import ApiGateway
from localcloud.cloudformation.template import Template
from localcloud.cognito.tokens import CognitoVerifier, Unauthorized
from localcloud.spec import ApiSpec, MethodCacheSetting
from tests.support.template import TEMPLATE

AUTHORIZER = "CognitoAuthorizer"
TTL = 30
PARAMETERS = {
    "PaymentProviderBaseUrl": "https://payments.example.com",
    "NotificationSenderEmail": "shop@example.com",
    "OperatorAlertEmail": "ops@example.com",
    "CatalogCacheTtlSeconds": str(TTL),
}


@dataclass(frozen=True)
class Answer:
    payload: bytes
    function_error: str | None = None


@dataclass
class ScriptedInvoker:
    """Answers each call with `answer(function, event, n)` (n: the call's number, from 1)."""

    answer: Callable[[str, dict[str, Any], int], dict[str, Any]] = field(
        default=lambda function, event, n: {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json", "ETag": f'"v{n}"'},
            "body": json.dumps({"function": function, "call": n, "path": event["path"]}),
        }
    )
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    function_error: bool = False

    def invoke(self, name_or_arn: str, payload: bytes) -> Answer:
        event = json.loads(payload)
        self.calls.append((name_or_arn, event))
        if self.function_error:
            return Answer(b'{"errorType": "Boom"}', function_error="Unhandled")
        return Answer(json.dumps(self.answer(name_or_arn, event, len(self.calls))).encode())


class CallerFromToken:
    """Stands in for the Cognito verifier: the token `user-<sub>` is that customer."""

    def verify(self, token: str) -> dict[str, Any]:
        if not token.startswith("user-"):
            raise Unauthorized("Unauthorized")
        return {"sub": token.removeprefix("user-"), "token_use": "id"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def template_api(**overrides: str) -> ApiSpec:
    template = Template.load(TEMPLATE, {**PARAMETERS, **overrides})
    template.register_function_identities()
    (api,) = template.apis()
    return api


@pytest.fixture(scope="module")
def prod_api() -> ApiSpec:
    return template_api(Stage="prod")


@dataclass
class Stage:
    http: Client
    gateway: ApiGateway
    invoker: ScriptedInvoker
    clock: Clock
    lookups: list[bool]

    def get(self, path: str, **headers: str) -> Any:
        return self.http.get(f"/v1{path}", headers=headers)

    def functions_called(self) -> list[str]:
        return [function for function, _ in self.invoker.calls]


def stage_of(api: ApiSpec, may_invalidate: Callable[[Request, str], bool] | None = None) -> Stage:
    invoker = ScriptedInvoker()
    clock = Clock()
    lookups: list[bool] = []
    gateway = ApiGateway(
        api,
        invoker,
        {AUTHORIZER: cast("CognitoVerifier", CallerFromToken())},
        cache_clock=clock,
        may_invalidate_cache=may_invalidate,
        on_cache_lookup=lookups.append,
    )
    return Stage(Client(gateway), gateway, invoker, clock, lookups)


@pytest.fixture
def prod(prod_api: ApiSpec) -> Stage:
    return stage_of(prod_api)


# ---------------------------------------------------------------- what the template declares


def test_in_prod_only_the_two_public_catalog_reads_cache_with_the_ttl_parameter(
    prod: Stage, prod_api: ApiSpec
) -> None:
    cached = {
        (route.method, route.path): settings.ttl_seconds
        for route in prod_api.routes
        if (settings := prod.gateway.cache.settings(route)) is not None
    }

    assert cached == {("GET", "/products"): TTL, ("GET", "/products/{sku}"): TTL}
    assert all(
        route.authorizer is None
        for route in prod_api.routes
        if (route.method, route.path) in cached
    )


def test_outside_prod_there_is_no_stage_cache() -> None:
    dev = stage_of(template_api())

    dev.get("/products/KB-001")
    dev.get("/products/KB-001")

    assert dev.functions_called() == ["GetProductFunction", "GetProductFunction"]
    assert dev.lookups == []
    assert len(dev.gateway.cache) == 0


# ---------------------------------------------------------------- hits, keys and the TTL


def test_a_second_read_of_a_product_is_served_from_the_cache(prod: Stage) -> None:
    # When the same product is read twice
    first = prod.get("/products/KB-001")
    second = prod.get("/products/KB-001")

    # Then the function ran once, and both answers are its answer
    assert prod.functions_called() == ["GetProductFunction"]
    assert second.status_code == first.status_code == 200
    assert second.get_data() == first.get_data()
    assert second.headers["ETag"] == first.headers["ETag"] == '"v1"'
    assert second.headers["x-amzn-RequestId"] != first.headers["x-amzn-RequestId"]
    assert prod.lookups == [False, True]


def test_each_sku_and_each_page_is_its_own_entry(prod: Stage) -> None:
    for path in (
        "/products/KB-001",
        "/products/KB-002",
        "/products",
        "/products?limit=2",
        "/products?limit=2&cursor=abc",
        "/products?limit=2&cursor=abd",
    ):
        prod.get(path)
        prod.get(path)

    assert len(prod.invoker.calls) == 6
    assert len(prod.gateway.cache) == 6


def test_a_query_string_that_is_not_a_cache_key_shares_the_entry_as_on_aws(
    prod: Stage,
) -> None:
    first = prod.get("/products?limit=2")
    second = prod.get("/products?limit=2&utm_source=mail")

    assert prod.functions_called() == ["ListProductsFunction"]
    assert second.get_data() == first.get_data()


def test_a_cached_304_answers_only_a_client_that_sent_the_same_tag(prod: Stage) -> None:
    # Given the function answers 304 to If-None-Match, 200 with a body otherwise
    def answer(function: str, event: dict[str, Any], n: int) -> dict[str, Any]:
        if (event["headers"] or {}).get("If-None-Match") == '"v1"':
            return {"statusCode": 304, "headers": {"ETag": '"v1"'}, "body": ""}
        return {"statusCode": 200, "headers": {"ETag": '"v1"'}, "body": '{"sku": "KB-001"}'}

    prod.invoker.answer = answer

    # When one client revalidates (cached 304) and then a new client asks without a tag
    revalidated = prod.get("/products/KB-001", **{"If-None-Match": '"v1"'})
    again = prod.get("/products/KB-001", **{"If-None-Match": '"v1"'})
    fresh_client = prod.get("/products/KB-001")

    # Then the new client gets the body, never the other client's 304
    assert revalidated.status_code == again.status_code == 304
    assert fresh_client.status_code == 200
    assert fresh_client.get_json() == {"sku": "KB-001"}
    assert len(prod.invoker.calls) == 2


def test_an_entry_lives_the_ttl_then_the_function_answers_again(prod: Stage) -> None:
    prod.get("/products/KB-001")
    prod.clock.now += TTL - 0.5
    served_at_the_end = prod.get("/products/KB-001")
    prod.clock.now += 0.5
    after_expiry = prod.get("/products/KB-001")
    then_cached_again = prod.get("/products/KB-001")

    assert served_at_the_end.headers["ETag"] == '"v1"'
    assert after_expiry.headers["ETag"] == then_cached_again.headers["ETag"] == '"v2"'
    assert len(prod.invoker.calls) == 2


# ---------------------------------------------------------------- Cache-Control: max-age=0


def test_an_anonymous_max_age_0_is_ignored_with_a_warning(prod: Stage) -> None:
    prod.get("/products/KB-001")

    response = prod.get("/products/KB-001", **{"Cache-Control": "no-transform, max-age=0"})

    assert response.headers["ETag"] == '"v1"'  # the cached answer
    assert response.headers["Warning"] == UNAUTHORIZED_WARNING
    assert len(prod.invoker.calls) == 1


def test_a_caller_allowed_to_invalidate_gets_a_fresh_answer_that_replaces_the_entry(
    prod_api: ApiSpec,
) -> None:
    # Given only requests signed by the operator may invalidate
    arns: list[str] = []

    def operator_only(request: Request, method_arn: str) -> bool:
        arns.append(method_arn)
        return request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")

    stage = stage_of(prod_api, may_invalidate=operator_only)
    stage.get("/products/KB-001")

    # When the operator asks for a fresh answer, then anyone reads
    fresh = stage.get(
        "/products/KB-001",
        **{"Cache-Control": "max-age=0", "Authorization": "AWS4-HMAC-SHA256 Credential=OP/x"},
    )
    later = stage.get("/products/KB-001")

    # Then the function answered again and its answer replaced the entry
    assert fresh.headers["ETag"] == later.headers["ETag"] == '"v2"'
    assert "Warning" not in fresh.headers
    assert len(stage.invoker.calls) == 2
    assert arns == ["arn:aws:execute-api:us-east-1:123456789012:Api/v1/GET/products/KB-001"]


def with_strategy(api: ApiSpec, strategy: str) -> ApiSpec:
    settings = tuple(
        dataclasses.replace(setting, unauthorized_strategy=strategy)
        if setting.resource_path.startswith("/products")
        else setting
        for setting in api.cache_settings
    )
    return dataclasses.replace(api, cache_settings=settings)


def test_fail_with_403_refuses_an_unauthorized_max_age_0(prod_api: ApiSpec) -> None:
    stage = stage_of(with_strategy(prod_api, FAIL_WITH_403))
    stage.get("/products/KB-001")

    response = stage.get("/products/KB-001", **{"Cache-Control": "max-age=0"})

    assert response.status_code == 403
    assert response.get_json()["code"] == "FORBIDDEN"
    assert len(stage.invoker.calls) == 1


def test_succeed_without_response_header_ignores_it_silently(prod_api: ApiSpec) -> None:
    stage = stage_of(with_strategy(prod_api, SUCCEED_WITHOUT_RESPONSE_HEADER))
    stage.get("/products/KB-001")

    response = stage.get("/products/KB-001", **{"Cache-Control": "max-age=0"})

    assert response.headers["ETag"] == '"v1"'
    assert "Warning" not in response.headers


# ---------------------------------------------------------------- what is never cached


def test_a_customers_own_answer_is_never_served_to_another(prod: Stage) -> None:
    # When two customers read the same order path, each twice
    answers = {
        token: [prod.get("/orders/o-1", Authorization=token).get_json()["call"] for _ in range(2)]
        for token in ("user-alice", "user-bob")
    }

    # Then every read reached the function with its own caller: nothing was cached
    assert answers == {"user-alice": [1, 2], "user-bob": [3, 4]}
    callers = [
        event["requestContext"]["authorizer"]["claims"]["sub"] for _, event in prod.invoker.calls
    ]
    assert callers == ["alice", "alice", "bob", "bob"]
    assert len(prod.gateway.cache) == 0


def test_writes_and_other_public_reads_are_not_cached(prod: Stage) -> None:
    for _ in range(2):
        prod.http.put("/v1/products/KB-001", headers={"Authorization": "user-admin"}, json={})
        prod.get("/health")

    assert prod.functions_called() == [
        "UpsertProductFunction",
        "HealthFunction",
        "UpsertProductFunction",
        "HealthFunction",
    ]
    assert prod.lookups == []


def test_a_refused_caller_never_reads_the_cache(prod_api: ApiSpec) -> None:
    # Given a cache turned on for an authorized route too (a template mistake)
    orders = MethodCacheSetting("/orders/{orderId}", "GET", caching_enabled=True, ttl_seconds=60)
    stage = stage_of(
        dataclasses.replace(prod_api, cache_settings=(*prod_api.cache_settings, orders))
    )
    stage.get("/orders/o-1", Authorization="user-alice")

    # When a caller without a token asks
    response = stage.get("/orders/o-1")

    # Then the authorizer refuses before the cache is read
    assert response.status_code == 401
    assert stage.lookups == [False]


def test_an_answer_the_gateway_makes_itself_is_not_cached(prod: Stage) -> None:
    # Given the function fails (API Gateway's 502)
    prod.invoker.function_error = True
    failed = prod.get("/products/KB-001")

    # When it works again
    prod.invoker.function_error = False
    recovered = prod.get("/products/KB-001")

    assert failed.status_code == 502
    assert recovered.status_code == 200
    assert len(prod.invoker.calls) == 2


def test_the_functions_own_404_is_cached_as_api_gateway_caches_any_integration_answer(
    prod: Stage,
) -> None:
    # Given the product does not exist yet
    prod.invoker.answer = lambda function, event, n: {
        "statusCode": 404 if n == 1 else 200,
        "body": json.dumps({"call": n}),
    }
    missing = prod.get("/products/NEW-1")

    # When it is read again within the TTL (say, just after it was created)
    still_missing = prod.get("/products/NEW-1")

    # Then the 404 is served from the cache (AWS has no status filter for a proxy integration)
    assert missing.status_code == still_missing.status_code == 404
    assert len(prod.invoker.calls) == 1
