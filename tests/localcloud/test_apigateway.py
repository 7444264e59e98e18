"""localcloud's API Gateway: routing, the Cognito authorizer (against a real moto server),
throttling, the proxy event and response, and the template's gateway responses.

The Lambda runtime is replaced by a fake Invoker that records events and answers with a
canned proxy response: what is under test here is the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import boto3
import jwt
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer
from moto.utilities.utils import load_resource
from werkzeug.test import Client

from localcloud.apigateway.gateway import ApiGateway, Router
from localcloud.cloudformation.template import Template
from localcloud.cognito.tokens import CognitoVerifier, Unauthorized, issue_id_token
from localcloud.lambda_.concurrency import ACCOUNT_LIMIT_EXCEEDED, TooManyRequestsException
from localcloud.spec import ApiRoute, ApiSpec, GatewayResponse
from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import TEMPLATE, raw_template, resource

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

REGION = "us-east-1"
AUTHORIZER = "CognitoAuthorizer"
OK_RESPONSE = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


# ---------------------------------------------------------------- fakes and fixtures


@dataclass(frozen=True)
class FakeResult:
    payload: bytes
    function_error: str | None = None


@dataclass
class FakeInvoker:
    """Stands in for the Lambda runtime: records (function, event), returns `response`."""

    response: FakeResult = field(
        default_factory=lambda: FakeResult(json.dumps(OK_RESPONSE).encode())
    )
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusal: Exception | None = None  # raised instead of answering, as Lambda's Invoke can

    def invoke(self, name_or_arn: str, payload: bytes) -> FakeResult:
        self.calls.append((name_or_arn, json.loads(payload)))
        if self.refusal is not None:
            raise self.refusal
        return self.response

    @property
    def last_event(self) -> dict[str, Any]:
        return self.calls[-1][1]


@dataclass(frozen=True)
class UserPool:
    client: Any  # boto3 cognito-idp client
    endpoint: str
    pool_id: str
    client_id: str
    other_client_id: str


def template_gateway_responses() -> dict[str, GatewayResponse]:
    """The Api's GatewayResponses exactly as template.yaml declares them."""
    declared = resource("Api")["Properties"]["GatewayResponses"]
    return {
        name: GatewayResponse(
            status_code=props.get("StatusCode"),
            template=props.get("ResponseTemplates", {}).get("application/json"),
        )
        for name, props in declared.items()
    }


def api_spec(throttle_rate: float | None = 100, throttle_burst: int | None = 200) -> ApiSpec:
    return ApiSpec(
        logical_id="Api",
        stage="v1",
        routes=(
            ApiRoute("HealthFunction", "GET", "/health", None),
            ApiRoute("GetProductFunction", "GET", "/products/{sku}", None),
            ApiRoute("UpsertProductFunction", "PUT", "/products/{sku}", AUTHORIZER),
            ApiRoute("GetCustomerFunction", "GET", "/customers/me", AUTHORIZER),
            ApiRoute("GetOrderFunction", "GET", "/orders/{orderId}", AUTHORIZER),
            ApiRoute("CancelOrderFunction", "POST", "/orders/{orderId}/cancel", AUTHORIZER),
        ),
        cognito_authorizers={AUTHORIZER: "UserPool"},
        throttle_rate=throttle_rate,
        throttle_burst=throttle_burst,
        gateway_responses=template_gateway_responses(),
    )


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def pool(moto_endpoint: str) -> UserPool:
    client = boto3.client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool_id = client.create_user_pool(
        PoolName="shop-users", Policies={"PasswordPolicy": {"MinimumLength": 12}}
    )["UserPool"]["Id"]
    client.create_group(GroupName="admin", UserPoolId=pool_id)
    # Both allow the server-side password sign-in these tests use (Cognito refuses a flow a
    # client does not list; localcloud.cognito.auth_flows).
    flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="shop-web", ExplicitAuthFlows=flows
    )["UserPoolClient"]["ClientId"]
    other_client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="other", ExplicitAuthFlows=flows
    )["UserPoolClient"]["ClientId"]
    return UserPool(client, moto_endpoint, pool_id, client_id, other_client_id)


@pytest.fixture(scope="module")
def verifier(pool: UserPool) -> CognitoVerifier:
    return CognitoVerifier(pool.endpoint, REGION, pool.pool_id, [pool.client_id])


@pytest.fixture
def invoker() -> FakeInvoker:
    return FakeInvoker()


@pytest.fixture
def http(invoker: FakeInvoker, verifier: CognitoVerifier) -> Client:
    return Client(ApiGateway(api_spec(), invoker, {AUTHORIZER: verifier}))


def token_for(pool: UserPool, username: str, *, admin: bool = False) -> str:
    return issue_id_token(pool.client, pool.pool_id, pool.client_id, username, admin=admin)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def sign(claims: dict[str, Any], key: Any) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def moto_signing_key() -> Any:
    """The private key moto signs every user pool's tokens with."""
    private_jwk = load_resource("cognitoidp/resources/jwks-private.json")
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(private_jwk))


def assert_error(response: Any, status: int, code: str, message: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"message": message, "code": code}


# ---------------------------------------------------------------- routing and the event


def test_public_route_needs_no_token(http: Client, invoker: FakeInvoker) -> None:
    # When
    response = http.get("/v1/health")

    # Then
    assert response.status_code == 200
    assert response.get_json() == {}
    function, event = invoker.calls[-1]
    assert function == "HealthFunction"
    assert event["resource"] == "/health"
    assert event["path"] == "/health"
    assert "authorizer" not in event["requestContext"]


def test_event_has_the_rest_api_proxy_shape(http: Client, invoker: FakeInvoker) -> None:
    # When
    response = http.get(
        "/v1/products/SKU-1?limit=5&tag=a&tag=b",
        headers={"User-Agent": "pytest", "X-Trace": "1"},
    )

    # Then
    assert response.status_code == 200
    event = invoker.last_event
    assert event["resource"] == "/products/{sku}"
    assert event["path"] == "/products/SKU-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"sku": "SKU-1"}
    assert event["queryStringParameters"] == {"limit": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "tag": ["a", "b"]}
    assert event["headers"]["X-Trace"] == "1"
    assert event["multiValueHeaders"]["X-Trace"] == ["1"]
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/products/{sku}"
    assert context["path"] == "/v1/products/SKU-1"
    assert context["stage"] == "v1"
    assert context["httpMethod"] == "GET"
    assert context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "pytest"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert response.headers["x-amzn-RequestId"] == context["requestId"]
    assert response.headers["X-Request-Id"] == context["requestId"]


def test_event_without_parameters_has_nulls(http: Client, invoker: FakeInvoker) -> None:
    http.get("/v1/health")

    event = invoker.last_event
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_reads_go_to_the_read_invoker_and_everything_else_to_the_invoker(
    verifier: CognitoVerifier, pool: UserPool
) -> None:
    # Given a gateway whose reads have their own invoker (localcloud queues a client's new
    # work behind the work inside, and its reads with that work)
    writes, reads = FakeInvoker(), FakeInvoker()
    http = Client(ApiGateway(api_spec(), writes, {AUTHORIZER: verifier}, read_invoker=reads))
    token = token_for(pool, "reader-writer", admin=True)

    # When a client reads, writes and cancels
    http.get("/v1/health")
    http.get("/v1/products/SKU-1")
    http.put("/v1/products/SKU-1", json={"name": "Mug"}, headers={"Authorization": token})
    http.post("/v1/orders/o-1/cancel", headers={"Authorization": token})

    # Then the GETs went to the read invoker, the PUT and the POST to the other
    assert [name for name, _ in reads.calls] == ["HealthFunction", "GetProductFunction"]
    assert [name for name, _ in writes.calls] == ["UpsertProductFunction", "CancelOrderFunction"]


def test_text_body_passes_as_is_and_binary_body_as_base64(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # Given
    token = token_for(pool, "bodies", admin=True)

    # When
    http.put("/v1/products/SKU-1", json={"name": "Mug"}, headers={"Authorization": token})
    text_event = invoker.last_event
    http.put("/v1/products/SKU-1", data=b"\xff\x00\xfe", headers={"Authorization": token})
    binary_event = invoker.last_event

    # Then
    assert json.loads(text_event["body"]) == {"name": "Mug"}
    assert text_event["isBase64Encoded"] is False
    assert base64.b64decode(binary_event["body"]) == b"\xff\x00\xfe"
    assert binary_event["isBase64Encoded"] is True


@pytest.mark.parametrize(
    "path",
    ["/v1/nowhere", "/v1/products", "/v1/products/SKU-1/extra", "/health", "/v2/health", "/"],
)
def test_unknown_route_is_the_templates_404(http: Client, invoker: FakeInvoker, path: str) -> None:
    response = http.get(path)

    assert_error(response, 404, "NOT_FOUND", "No such route")
    assert invoker.calls == []


def test_wrong_method_on_a_known_path_is_404(http: Client, invoker: FakeInvoker) -> None:
    response = http.delete("/v1/health")

    assert_error(response, 404, "NOT_FOUND", "No such route")
    assert invoker.calls == []


def test_literal_segment_wins_over_parameter() -> None:
    router = Router(
        [
            ApiRoute("Any", "GET", "/{proxy+}", None),
            ApiRoute("ById", "GET", "/customers/{customerId}", None),
            ApiRoute("Me", "GET", "/customers/me", None),
            ApiRoute("Cancel", "POST", "/orders/{orderId}/cancel", None),
        ]
    )

    me = router.match("GET", "/customers/me")
    by_id = router.match("GET", "/customers/c-1")
    deep = router.match("GET", "/a/b/c")
    cancel = router.match("POST", "/orders/o-1/cancel")

    assert me is not None
    assert me.route.function == "Me"
    assert me.path_parameters == {}
    assert by_id is not None
    assert by_id.path_parameters == {"customerId": "c-1"}
    assert deep is not None
    assert deep.path_parameters == {"proxy": "a/b/c"}
    assert cancel is not None
    assert cancel.path_parameters == {"orderId": "o-1"}
    assert router.match("GET", "/") is None


def test_event_works_with_powertools_rest_resolver(
    verifier: CognitoVerifier, pool: UserPool
) -> None:
    # Given a real Powertools resolver behind the gateway
    app = APIGatewayRestResolver()

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> dict[str, Any]:
        event = app.current_event
        return {
            "orderId": order_id,
            "customerId": event.request_context.authorizer.claims["sub"],
            "asOf": event.get_query_string_value("asOf"),
        }

    class ResolverInvoker:
        def invoke(self, name_or_arn: str, payload: bytes) -> FakeResult:
            context = cast("LambdaContext", FakeLambdaContext())
            answer = app.resolve(json.loads(payload), context)
            return FakeResult(json.dumps(answer).encode())

    http = Client(ApiGateway(api_spec(), ResolverInvoker(), {AUTHORIZER: verifier}))
    token = token_for(pool, "powertools")

    # When
    response = http.get("/v1/orders/o-42?asOf=2026-01-01", headers={"Authorization": token})

    # Then
    assert response.status_code == 200
    assert response.get_json() == {
        "orderId": "o-42",
        "customerId": claims_of(token)["sub"],
        "asOf": "2026-01-01",
    }


# ---------------------------------------------------------------- the Cognito authorizer


def test_valid_token_passes_claims_as_strings(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # Given
    token = token_for(pool, "alice-admin", admin=True)
    sub = claims_of(token)["sub"]

    # When
    response = http.put("/v1/products/SKU-1", json={}, headers={"Authorization": token})

    # Then
    assert response.status_code == 200
    function, event = invoker.calls[-1]
    assert function == "UpsertProductFunction"
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == sub
    assert claims["cognito:groups"] == "admin"
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == "alice-admin"
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["exp"].endswith(time.strftime("UTC %Y", time.gmtime()))


def test_user_without_groups_has_no_groups_claim(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    token = token_for(pool, "bob")

    response = http.get("/v1/customers/me", headers={"Authorization": token})

    assert response.status_code == 200
    assert "cognito:groups" not in invoker.last_event["requestContext"]["authorizer"]["claims"]


def test_bearer_prefix_is_accepted(http: Client, invoker: FakeInvoker, pool: UserPool) -> None:
    token = token_for(pool, "carol")

    response = http.get("/v1/orders/o-1", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert invoker.last_event["pathParameters"] == {"orderId": "o-1"}
    assert (
        invoker.last_event["requestContext"]["authorizer"]["claims"]["sub"]
        == claims_of(token)["sub"]
    )


def test_missing_token_is_401(http: Client, invoker: FakeInvoker) -> None:
    response = http.get("/v1/orders/o-1")

    assert_error(response, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


def test_expired_token_is_401(http: Client, invoker: FakeInvoker, pool: UserPool) -> None:
    # Given a token moto's key signed, an hour past its expiry
    claims = claims_of(token_for(pool, "dave"))
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    expired = sign(claims, moto_signing_key())

    # When
    response = http.get("/v1/orders/o-1", headers={"Authorization": expired})

    # Then
    assert_error(response, 401, "UNAUTHORIZED", "The incoming token has expired")
    assert invoker.calls == []


def test_verifier_checks_expiry_against_its_clock(pool: UserPool) -> None:
    token = token_for(pool, "erin")
    two_hours_later = CognitoVerifier(
        pool.endpoint, REGION, pool.pool_id, [pool.client_id], clock=lambda: time.time() + 7200
    )

    with pytest.raises(Unauthorized, match="The incoming token has expired"):
        two_hours_later.verify(token)


def test_token_signed_with_another_key_is_401(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # Given the claims of a valid token, signed with a key that is not the pool's
    claims = claims_of(token_for(pool, "frank"))
    forged = sign(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    response = http.get("/v1/orders/o-1", headers={"Authorization": forged})

    assert_error(response, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


def test_token_with_changed_claims_is_401(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # Given a valid token whose payload was swapped for another user's sub
    header, _, signature = token_for(pool, "grace").split(".")
    claims = claims_of(token_for(pool, "grace"))
    claims["sub"] = "someone-else"
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{payload}.{signature}"

    response = http.get("/v1/orders/o-1", headers={"Authorization": tampered})

    assert_error(response, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


def test_token_for_another_client_is_401(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    token = issue_id_token(pool.client, pool.pool_id, pool.other_client_id, "heidi", admin=False)

    response = http.get("/v1/orders/o-1", headers={"Authorization": token})

    assert_error(response, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


@pytest.mark.parametrize("value", ["not-a-jwt", "Bearer ", "Bearer a.b.c"])
def test_garbage_token_is_401(http: Client, invoker: FakeInvoker, value: str) -> None:
    response = http.get("/v1/orders/o-1", headers={"Authorization": value})

    assert_error(response, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


def test_access_token_is_not_an_id_token(pool: UserPool, verifier: CognitoVerifier) -> None:
    token_for(pool, "ivan")
    access_token = pool.client.admin_initiate_auth(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ivan", "PASSWORD": "Localcloud-passw0rd!"},
    )["AuthenticationResult"]["AccessToken"]

    with pytest.raises(Unauthorized, match="Unauthorized"):
        verifier.verify(access_token)


def test_issue_id_token_creates_the_user_once(pool: UserPool) -> None:
    # When
    first = claims_of(token_for(pool, "judy"))
    second = claims_of(token_for(pool, "judy", admin=True))

    # Then the same user, now an admin, with the email the helper gave it
    assert first["sub"] == second["sub"]
    assert "cognito:groups" not in first
    assert second["cognito:groups"] == ["admin"]
    user = pool.client.admin_get_user(UserPoolId=pool.pool_id, Username="judy")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "judy@example.com"
    assert attributes["email_verified"] == "true"
    assert user["UserStatus"] == "CONFIRMED"


# ---------------------------------------------------------------- throttling


def test_throttling_rate_1_burst_2_refuses_the_third_request(
    invoker: FakeInvoker, verifier: CognitoVerifier
) -> None:
    # Given a stage with rate 1/s and burst 2, and a clock that stands still
    now = [1000.0]
    gateway = ApiGateway(
        api_spec(throttle_rate=1, throttle_burst=2),
        invoker,
        {AUTHORIZER: verifier},
        throttle_clock=lambda: now[0],
    )
    http = Client(gateway)

    # When
    statuses = [http.get("/v1/health").status_code for _ in range(2)]
    throttled = http.get("/v1/health")
    now[0] += 1.0
    after_a_second = http.get("/v1/health")

    # Then
    assert statuses == [200, 200]
    assert_error(throttled, 429, "THROTTLED", "Too Many Requests")
    assert after_a_second.status_code == 200
    assert len(invoker.calls) == 3


# ---------------------------------------------------------------- the function's response


def test_proxy_response_becomes_the_http_response(http: Client, invoker: FakeInvoker) -> None:
    invoker.response = FakeResult(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"Location": "/v1/x", "X-One": "1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                "body": json.dumps({"id": "x"}),
                "isBase64Encoded": False,
            }
        ).encode()
    )

    response = http.get("/v1/health")

    assert response.status_code == 201
    assert response.get_json() == {"id": "x"}
    assert response.headers["Location"] == "/v1/x"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"


def test_base64_proxy_response_is_decoded(http: Client, invoker: FakeInvoker) -> None:
    invoker.response = FakeResult(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\x89PNG").decode(),
                "isBase64Encoded": True,
            }
        ).encode()
    )

    response = http.get("/v1/health")

    assert response.data == b"\x89PNG"
    assert response.headers["Content-Type"] == "image/png"


def test_function_error_is_502(http: Client, invoker: FakeInvoker) -> None:
    invoker.response = FakeResult(
        json.dumps({"errorType": "KeyError", "errorMessage": "'x'"}).encode(),
        function_error="Unhandled",
    )

    response = http.get("/v1/health")

    assert_error(response, 502, "INTERNAL_ERROR", "Internal server error")


def test_throttled_function_is_500_as_api_gateway_answers_a_rejected_invoke(
    http: Client, invoker: FakeInvoker
) -> None:
    # Given Lambda refuses the invocation (concurrency limit): Invoke's 429
    invoker.refusal = TooManyRequestsException("HealthFunction", ACCOUNT_LIMIT_EXCEEDED)
    # When
    response = http.get("/v1/health")
    # Then API Gateway answers 500, not the 502 of a function error (Lambda Developer Guide,
    # "Handling Lambda errors with an API Gateway API")
    assert_error(response, 500, "INTERNAL_ERROR", "Internal server error")


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"null", b'{"body": "{}"}', b'{"statusCode": 200, "body": {"a": 1}}'],
)
def test_malformed_proxy_response_is_502(
    http: Client, invoker: FakeInvoker, payload: bytes
) -> None:
    invoker.response = FakeResult(payload)

    response = http.get("/v1/health")

    assert_error(response, 502, "INTERNAL_ERROR", "Internal server error")


def test_each_request_is_logged_once(http: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="localcloud.apigateway.gateway"):
        http.get("/v1/health")

    lines = [r.getMessage() for r in caplog.records if r.name == "localcloud.apigateway.gateway"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /v1/health 200 ")
    assert lines[0].endswith("ms")


# ---------------------------------------------------------------- the HTTP server


def test_serves_on_a_free_port(invoker: FakeInvoker, verifier: CognitoVerifier) -> None:
    gateway = ApiGateway(api_spec(), invoker, {AUTHORIZER: verifier})
    gateway.serve("127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{gateway.port}"
        with urllib.request.urlopen(f"{base}/v1/health", timeout=5) as response:
            assert response.status == 200
            assert response.headers["x-amzn-RequestId"]
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/v1/orders/o-1", timeout=5)
        assert missing.value.code == 401
        assert json.loads(missing.value.read())["code"] == "UNAUTHORIZED"
    finally:
        gateway.close()


def test_route_with_unknown_authorizer_fails_at_start(invoker: FakeInvoker) -> None:
    with pytest.raises(ValueError, match="CognitoAuthorizer"):
        ApiGateway(api_spec(), invoker, {})


# ---------------------------------------------------------------- forged tokens (issue 11)
#
# Each token below is what an attacker can make: moto's pool signs with one RSA key whose
# public half anyone can fetch (the JWKS), and a token's header and claims are theirs to write.
# Every one must be refused with the gateway's 401 before any function is called.


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """header.payload. with the JSON exactly as given (json.dumps writes NaN and Infinity)."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = unsigned({**header, "alg": "HS256"}, claims)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def moto_public_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = load_resource("cognitoidp/resources/jwks-public.json")["keys"][0]
    return jwk


def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def valid_claims(pool: UserPool, username: str) -> dict[str, Any]:
    """The claims of a real ID token of `username`, fresh for another hour."""
    claims = claims_of(token_for(pool, username))
    claims.update(iat=int(time.time()), exp=int(time.time()) + 3600)
    return claims


def forged_tokens(pool: UserPool) -> dict[str, str]:
    claims = valid_claims(pool, "mallory")
    moto_key = moto_signing_key()
    public_pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(moto_public_jwk())).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mine = attacker_key()
    my_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(mine.public_key()))
    moto_kid = moto_public_jwk()["kid"]

    def signed(changes: dict[str, Any], key: Any = moto_key, **headers: Any) -> str:
        return jwt.encode(
            {**claims, **changes}, key, algorithm="RS256", headers={"kid": moto_kid, **headers}
        )

    return {
        "alg none": unsigned({"alg": "none", "kid": moto_kid}, claims) + ".",
        "alg None, signature kept": unsigned({"alg": "None", "kid": moto_kid}, claims)
        + "."
        + signed({}).split(".")[2],
        "HS256 keyed with the pool's public key (PEM)": hs256(
            {"kid": moto_kid}, claims, public_pem
        ),
        "HS256 keyed with the public JWK's modulus": hs256(
            {"kid": moto_kid}, claims, moto_public_jwk()["n"].encode()
        ),
        "unknown kid": signed({}, kid="not-a-key-of-the-pool"),
        "no kid": jwt.encode(claims, moto_key, algorithm="RS256"),
        "kid of the pool, signed with another key": signed({}, key=mine),
        "kid as a path": signed({}, kid="../../../../etc/passwd"),
        "embedded jwk of the signer": signed({}, key=mine, jwk=my_jwk),
        "embedded jwk, kid of the signer": signed(
            {}, key=mine, jwk={**my_jwk, "kid": "mine"}, kid="mine"
        ),
        "jku pointing elsewhere": signed(
            {}, key=mine, jku="http://127.0.0.1:9/jwks.json", kid="mine"
        ),
        "x5c of the signer": signed({}, key=mine, x5c=["MIIB"]),
        "signature stripped": signed({}).rsplit(".", 1)[0] + ".",
        "expired an hour ago": signed(
            {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
        ),
        "exp as a date string": signed({"exp": "Wed Dec 31 23:59:59 UTC 2099"}),
        "exp as a numeric string": signed({"exp": "4102444799"}),
        "exp true": signed({"exp": True}),
        "exp null": signed({"exp": None}),
        "exp a list": signed({"exp": [4102444799]}),
        "exp NaN": signed({"exp": float("nan")}),
        "exp Infinity": signed({"exp": float("inf")}),
        "exp -Infinity": signed({"exp": float("-inf")}),
        "exp 1e400 (Infinity once parsed)": jwt.api_jws.PyJWS().encode(
            json.dumps({**claims, "exp": 0}).replace('"exp": 0', '"exp": 1e400').encode(),
            moto_key,
            algorithm="RS256",
            headers={"kid": moto_kid},
        ),
        "no exp": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            moto_key,
            algorithm="RS256",
            headers={"kid": moto_kid},
        ),
        "nbf in the future": signed({"nbf": int(time.time()) + 3600}),
        "issuer of another pool": signed(
            {"iss": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Attacker1"}
        ),
        "issuer over http": signed({"iss": claims["iss"].replace("https://", "http://")}),
        "audience of another client": signed({"aud": pool.other_client_id}),
        "audience missing": jwt.encode(
            {k: v for k, v in claims.items() if k != "aud"},
            moto_key,
            algorithm="RS256",
            headers={"kid": moto_kid},
        ),
        "token_use access": signed({"token_use": "access"}),
        "token_use missing": jwt.encode(
            {k: v for k, v in claims.items() if k != "token_use"},
            moto_key,
            algorithm="RS256",
            headers={"kid": moto_kid},
        ),
        "no sub": jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"},
            moto_key,
            algorithm="RS256",
            headers={"kid": moto_kid},
        ),
    }


@pytest.fixture(scope="module")
def forged(pool: UserPool) -> dict[str, str]:
    return forged_tokens(pool)


FORGERIES = [
    "alg none",
    "alg None, signature kept",
    "HS256 keyed with the pool's public key (PEM)",
    "HS256 keyed with the public JWK's modulus",
    "unknown kid",
    "no kid",
    "kid of the pool, signed with another key",
    "kid as a path",
    "embedded jwk of the signer",
    "embedded jwk, kid of the signer",
    "jku pointing elsewhere",
    "x5c of the signer",
    "signature stripped",
    "exp as a date string",
    "exp as a numeric string",
    "exp true",
    "exp null",
    "exp a list",
    "exp NaN",
    "exp Infinity",
    "exp -Infinity",
    "exp 1e400 (Infinity once parsed)",
    "no exp",
    "nbf in the future",
    "issuer of another pool",
    "issuer over http",
    "audience of another client",
    "audience missing",
    "token_use access",
    "token_use missing",
    "no sub",
]


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.parametrize("prefix", ["", "Bearer "])
def test_a_forged_token_is_401_and_calls_nothing(
    http: Client, invoker: FakeInvoker, forged: dict[str, str], forgery: str, prefix: str
) -> None:
    # Given a token an attacker made
    # When it is sent to an owner route and to the admin route
    mine = http.get("/v1/orders/o-1", headers={"Authorization": prefix + forged[forgery]})
    admin = http.put(
        "/v1/products/SKU-1", json={}, headers={"Authorization": prefix + forged[forgery]}
    )

    # Then both are the gateway's 401 and no function ran
    assert_error(mine, 401, "UNAUTHORIZED", "Unauthorized")
    assert_error(admin, 401, "UNAUTHORIZED", "Unauthorized")
    assert invoker.calls == []


def test_every_forgery_is_tried(forged: dict[str, str]) -> None:
    assert sorted(FORGERIES) == sorted(set(forged) - {"expired an hour ago"})


def test_the_forgeries_differ_from_a_valid_token_only_in_what_they_name(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # The claims every forgery starts from, signed as the pool signs them, pass: so each 401
    # above is the forged part's doing
    token = jwt.encode(
        valid_claims(pool, "mallory"),
        moto_signing_key(),
        algorithm="RS256",
        headers={"kid": moto_public_jwk()["kid"]},
    )

    response = http.get("/v1/orders/o-1", headers={"Authorization": token})

    assert response.status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["claims"]["cognito:username"] == (
        "mallory"
    )


def test_an_expired_forgery_says_it_expired(
    http: Client, invoker: FakeInvoker, forged: dict[str, str]
) -> None:
    response = http.get("/v1/orders/o-1", headers={"Authorization": forged["expired an hour ago"]})

    assert_error(response, 401, "UNAUTHORIZED", "The incoming token has expired")
    assert invoker.calls == []


# ---------------------------------------------------------------- the path, as sent (issue 11)


@pytest.mark.parametrize(
    ("sent", "sku"),
    [
        ("KB-001%0A", "KB-001%0A"),  # a trailing newline
        ("KB%2D001", "KB%2D001"),  # an encoded letter of the SKU
        ("a%2Fb", "a%2Fb"),  # an encoded slash: still one segment
        ("a%20b", "a%20b"),
        ("%00", "%00"),
        ("Zo%C3%AB", "Zo%C3%AB"),
    ],
)
def test_a_path_parameter_is_passed_percent_encoded_as_sent_like_rest_apis_do(
    http: Client, invoker: FakeInvoker, sent: str, sku: str
) -> None:
    # Given a path whose SKU segment is percent-encoded
    # When it is requested
    response = http.get(f"/v1/products/{sent}")

    # Then the route is found as API Gateway's REST API finds it (on the path as sent, an
    # encoded "/" inside one segment), and the function gets the segment still encoded
    assert response.status_code == 200
    function, event = invoker.calls[-1]
    assert function == "GetProductFunction"
    assert event["pathParameters"] == {"sku": sku}
    assert event["path"] == f"/products/{sent}"
    assert event["requestContext"]["path"] == f"/v1/products/{sent}"
    assert event["resource"] == "/products/{sku}"


def test_an_encoded_slash_does_not_reach_another_route(http: Client, invoker: FakeInvoker) -> None:
    # /orders/{orderId}/cancel has two segments after /orders; o-1%2Fcancel is one
    response = http.get("/v1/orders/o-1%2Fcancel", headers={"Authorization": "x"})

    assert response.status_code == 401  # GET /orders/{orderId}, behind the authorizer
    assert invoker.calls == []


# ---------------------------------------------------------------- CORS from the template (issue 11)

SHOP_ORIGIN = "https://shop.example.com"


def template_api(**overrides: str) -> ApiSpec:
    template = Template.load(TEMPLATE, overrides)
    template.register_function_identities()
    (api,) = template.apis()
    return api


@pytest.fixture(scope="module")
def cors_http_parts() -> ApiSpec:
    return template_api(ApiCorsAllowOrigin=SHOP_ORIGIN)


def gateway_for(api: ApiSpec, invoker: FakeInvoker, verifier: CognitoVerifier) -> Client:
    return Client(ApiGateway(api, invoker, dict.fromkeys(api.cognito_authorizers, verifier)))


def test_the_preflight_is_answered_by_the_gateway_as_the_template_declares(
    cors_http_parts: ApiSpec, invoker: FakeInvoker, verifier: CognitoVerifier
) -> None:
    http = Client(
        ApiGateway(
            cors_http_parts, invoker, dict.fromkeys(cors_http_parts.cognito_authorizers, verifier)
        )
    )

    # When a browser asks whether https://shop.example.com may POST to an owner route
    response = http.open(
        "/v1/orders/o-1/cancel",
        method="OPTIONS",
        headers={
            "Origin": SHOP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )

    # Then API Gateway's mock answers it (no token, no function), with the template's policy
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,PUT,OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Authorization,Content-Type,Idempotency-Key"
    )
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert invoker.calls == []


def test_the_gateways_own_errors_carry_the_origin_so_a_page_can_read_them(
    cors_http_parts: ApiSpec, invoker: FakeInvoker, verifier: CognitoVerifier
) -> None:
    http = Client(
        ApiGateway(
            cors_http_parts, invoker, dict.fromkeys(cors_http_parts.cognito_authorizers, verifier)
        )
    )

    unauthorized = http.get("/v1/orders/o-1", headers={"Origin": SHOP_ORIGIN})
    missing = http.get("/v1/nowhere", headers={"Origin": SHOP_ORIGIN})

    assert unauthorized.status_code == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN


def test_by_default_no_origin_is_allowed(invoker: FakeInvoker, verifier: CognitoVerifier) -> None:
    http = gateway_for(template_api(), invoker, verifier)

    response = http.open("/v1/orders", method="OPTIONS", headers={"Origin": "https://evil.example"})

    assert response.status_code == 200
    assert response.headers.get("Access-Control-Allow-Origin", "") == ""


@pytest.mark.parametrize(
    "origin",
    ["*", "https://*.example.com", "https://a.example, https://b.example", "null", "shop.example"],
)
def test_the_template_refuses_an_origin_that_is_not_one_origin(origin: str) -> None:
    parameter = raw_template()["Parameters"]["ApiCorsAllowOrigin"]

    assert not re.fullmatch(parameter["AllowedPattern"], origin)
    assert re.fullmatch(parameter["AllowedPattern"], SHOP_ORIGIN)
    assert parameter["Default"] == ""
    assert resource("Api")["Properties"]["Cors"]["AllowCredentials"] is False


def test_two_groups_reach_the_function_joined_with_a_comma_as_rest_apis_pass_them(
    http: Client, invoker: FakeInvoker, pool: UserPool
) -> None:
    # Given a user in the admin and sales groups (issue 11, finding 4: shop_shared.http reads
    # exactly this format, the names split on ",")
    token_for(pool, "gina", admin=True)
    pool.client.create_group(GroupName="sales", UserPoolId=pool.pool_id)
    pool.client.admin_add_user_to_group(UserPoolId=pool.pool_id, Username="gina", GroupName="sales")
    token = token_for(pool, "gina")

    # When they call a route behind the authorizer
    http.get("/v1/customers/me", headers={"Authorization": token})

    # Then the claim is the group names joined with ",": no brackets, no spaces
    claims = invoker.last_event["requestContext"]["authorizer"]["claims"]
    assert sorted(claims["cognito:groups"].split(",")) == ["admin", "sales"]
    assert claims["cognito:groups"] in ("admin,sales", "sales,admin")
