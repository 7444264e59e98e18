"""localcloud's AWS WAF (issue 11, finding 5): the template's web ACL, associated with the API
stage, blocks a client IP over its rate-based rule's limit with API Gateway's WAF_FILTERED
answer (403), before routing, throttling, the authorizer and the function; the client gets
through again once its rate in the evaluation window falls below the limit.

In-process tests drive the gateway with the template's own web ACL and a clock the test moves;
the last test runs the whole template in localcloud with a short window (--waf-window-scale).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.test import Client

from localcloud.apigateway.gateway import ApiGateway
from localcloud.cloud import _stage_web_acl
from localcloud.cloudformation.template import Template
from localcloud.cognito.tokens import CognitoVerifier
from localcloud.spec import ApiSpec
from localcloud.waf.acl import UnsupportedWebAcl, WebAcl
from localcloud.waf.stage import StageWebAcl
from tests.localcloud.test_apigateway import FakeInvoker
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.template import TEMPLATE

LIMIT = 10
WINDOW = 60
CLIENT = "203.0.113.7"
OTHER_CLIENT = "203.0.113.8"
FORBIDDEN = {"message": "Forbidden", "code": "FORBIDDEN"}  # the template's WAF_FILTERED


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def template_parts(**overrides: str) -> tuple[ApiSpec, dict[str, Any]]:
    """The template's API and the resolved web ACL associated with its stage."""
    template = Template.load(
        TEMPLATE,
        {"WafRateLimit": str(LIMIT), "WafRateEvaluationWindowSeconds": str(WINDOW), **overrides},
    )
    template.register_function_identities()
    (acl_id,) = (logical_id for logical_id, _ in template.of_type("AWS::WAFv2::WebACL"))
    template.attributes[(acl_id, "Arn")] = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x"
    (api,) = template.apis()
    properties = _stage_web_acl(template, api.logical_id, api.stage)
    assert properties is not None, "the template associates no web ACL with the stage"
    return api, properties


@pytest.fixture(scope="module")
def parts() -> tuple[ApiSpec, dict[str, Any]]:
    return template_parts()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def invoker() -> FakeInvoker:
    return FakeInvoker()


def gateway(api: ApiSpec, acl: WebAcl, invoker: FakeInvoker) -> ApiGateway:
    # No verifier is ever asked in these tests (no token, or blocked before the authorizer).
    verifier = CognitoVerifier("http://127.0.0.1:9", "us-east-1", "us-east-1_none", ["none"])
    return ApiGateway(
        api,
        invoker,
        dict.fromkeys(api.cognito_authorizers, verifier),
        web_acl=StageWebAcl(acl),
    )


def get(http: Client, path: str, ip: str = CLIENT, **headers: str) -> Any:
    return http.get(path, environ_overrides={"REMOTE_ADDR": ip}, headers=headers)


@pytest.fixture
def http(parts: tuple[ApiSpec, dict[str, Any]], clock: Clock, invoker: FakeInvoker) -> Client:
    api, properties = parts
    return Client(gateway(api, WebAcl.from_properties(properties, clock=clock), invoker))


def test_the_template_puts_a_per_ip_rate_rule_in_front_of_the_stage(
    parts: tuple[ApiSpec, dict[str, Any]],
) -> None:
    _, properties = parts
    acl = WebAcl.from_properties(properties)

    assert acl.default_action == "ALLOW"
    (rule,) = acl.rules
    assert (rule.action, rule.key, rule.limit, rule.window_seconds) == ("BLOCK", "IP", 10, 60)


def test_a_client_over_the_limit_is_403_before_the_function_and_others_are_not(
    http: Client, clock: Clock, invoker: FakeInvoker
) -> None:
    # Given a client that sent the limit's worth of requests within the window
    for _ in range(LIMIT):
        assert get(http, "/v1/health").status_code == 200
        clock.now += 1
    calls = len(invoker.calls)

    # When it sends one more
    blocked = get(http, "/v1/health")

    # Then WAF blocks it: API Gateway's WAF_FILTERED answer, and the function is not called
    assert blocked.status_code == 403
    assert json.loads(blocked.data) == FORBIDDEN
    assert len(invoker.calls) == calls
    # And another client is served as before
    assert get(http, "/v1/health", ip=OTHER_CLIENT).status_code == 200


def test_the_block_comes_before_routing_and_the_authorizer(
    http: Client, clock: Clock, invoker: FakeInvoker
) -> None:
    # Given a client over the limit
    for _ in range(LIMIT):
        get(http, "/v1/health")
    calls = len(invoker.calls)

    # When it calls a route behind the authorizer without a token, and a route that is not one
    orders = http.post("/v1/orders", environ_overrides={"REMOTE_ADDR": CLIENT})
    nowhere = get(http, "/v1/no-such-route")

    # Then both are WAF's 403, not the authorizer's 401 or the missing route's 404
    assert (orders.status_code, json.loads(orders.data)) == (403, FORBIDDEN)
    assert (nowhere.status_code, json.loads(nowhere.data)) == (403, FORBIDDEN)
    assert len(invoker.calls) == calls
    # While a client under the limit meets the authorizer as usual
    assert (
        http.post("/v1/orders", environ_overrides={"REMOTE_ADDR": OTHER_CLIENT}).status_code == 401
    )


def test_the_client_gets_through_again_once_its_window_has_passed(
    http: Client, clock: Clock
) -> None:
    # Given a client blocked after a burst, still blocked while it keeps sending
    for _ in range(LIMIT):
        get(http, "/v1/health")
    assert get(http, "/v1/health").status_code == 403
    clock.now += WINDOW / 2
    assert get(http, "/v1/health").status_code == 403  # blocked requests count too

    # When a whole window passes without its requests
    clock.now += WINDOW

    # Then it is served again
    assert get(http, "/v1/health").status_code == 200


def test_x_forwarded_for_is_not_the_key_of_an_ip_rule(http: Client, invoker: FakeInvoker) -> None:
    # Given a client that writes a new X-Forwarded-For on every request
    answers = [
        get(http, "/v1/health", **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(LIMIT + 1)
    ]

    # Then it is still one client (its connection's address): the eleventh is blocked
    assert answers == [200] * LIMIT + [403]


def forwarded_ip_acl(properties: dict[str, Any], fallback: str, clock: Clock) -> WebAcl:
    rules = json.loads(json.dumps(properties["Rules"]))
    statement = rules[0]["Statement"]["RateBasedStatement"]
    statement["AggregateKeyType"] = "FORWARDED_IP"
    statement["ForwardedIPConfig"] = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": fallback}
    return WebAcl.from_properties({**properties, "Rules": rules}, clock=clock)


def test_a_forwarded_ip_rule_keys_on_the_first_address_of_the_header(
    parts: tuple[ApiSpec, dict[str, Any]], clock: Clock, invoker: FakeInvoker
) -> None:
    api, properties = parts
    http = Client(gateway(api, forwarded_ip_acl(properties, "NO_MATCH", clock), invoker))

    # Given requests from one connection on behalf of two clients (a proxy in front)
    for _ in range(LIMIT):
        get(http, "/v1/health", **{"X-Forwarded-For": "198.51.100.1, 10.0.0.1"})

    # Then the first client is blocked, the second is not
    assert get(http, "/v1/health", **{"X-Forwarded-For": "198.51.100.1"}).status_code == 403
    assert get(http, "/v1/health", **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    # And, as WAF does, a request without the header is not inspected by the rule at all
    assert all(get(http, "/v1/health").status_code == 200 for _ in range(LIMIT + 1))


@pytest.mark.parametrize(("fallback", "status"), [("MATCH", 403), ("NO_MATCH", 200)])
def test_an_unreadable_forwarded_address_takes_the_fallback_behaviour(
    parts: tuple[ApiSpec, dict[str, Any]],
    clock: Clock,
    invoker: FakeInvoker,
    fallback: str,
    status: int,
) -> None:
    api, properties = parts
    http = Client(gateway(api, forwarded_ip_acl(properties, fallback, clock), invoker))

    response = get(http, "/v1/health", **{"X-Forwarded-For": "not-an-address"})

    assert response.status_code == status


def test_what_localcloud_cannot_evaluate_fails_at_start_up(
    parts: tuple[ApiSpec, dict[str, Any]],
) -> None:
    _, properties = parts
    rules = [
        {**properties["Rules"][0], "Statement": {"GeoMatchStatement": {"CountryCodes": ["AQ"]}}}
    ]

    with pytest.raises(UnsupportedWebAcl, match="RateBasedStatement"):
        WebAcl.from_properties({**properties, "Rules": rules})
    too_low = {"RateBasedStatement": {"Limit": 9, "AggregateKeyType": "IP"}}
    with pytest.raises(ValueError, match="at least 10"):  # what WAF refuses, localcloud refuses
        WebAcl.from_properties(
            {**properties, "Rules": [{**properties["Rules"][0], "Statement": too_low}]}
        )


# ---------------------------------------------------------------- the whole template in localcloud

SCALE = 0.05  # a 60 s window lasts 3 s


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    overrides = {"WafRateLimit": str(LIMIT), "WafRateEvaluationWindowSeconds": str(WINDOW)}
    with localcloud_process(
        tmp_path_factory.mktemp("waf"), overrides=overrides, waf_window_scale=SCALE
    ) as running:
        yield running


def call(cloud: RunningLocalCloud, method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        cloud.api_url + path, method=method, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def invocations(cloud: RunningLocalCloud, function: str) -> int:
    return int(cloud.status()["functions"].get(function, {}).get("invocations", 0))


def blocked_requests(cloud: RunningLocalCloud) -> float:
    dimensions = [
        {"Name": "WebACL", "Value": "shop-api"},
        {"Name": "Rule", "Value": "RateLimitPerIp"},
        {"Name": "Region", "Value": "us-east-1"},
    ]
    now = datetime.now(UTC)
    points = cloud.aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/WAFV2",
        MetricName="BlockedRequests",
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_localcloud_blocks_a_client_over_the_limit_and_lets_it_back_after_the_window(
    cloud: RunningLocalCloud,
) -> None:
    # Given the web ACL provisioned from the template, in moto's wafv2 as on AWS
    wafv2 = cloud.aws.client("wafv2")
    (summary,) = wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]
    acl = wafv2.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["WebACL"]
    assert acl["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == LIMIT

    # When this test's client sends more than the limit within the window
    answers = [call(cloud, "GET", "/health") for _ in range(LIMIT)]
    served = invocations(cloud, "HealthFunction")
    blocked = call(cloud, "GET", "/health")
    unauthenticated = call(cloud, "POST", "/orders")

    # Then the first ones are served, and then WAF answers 403 before the authorizer and the
    # functions (no 401 for the missing token, no more invocations)
    assert [status for status, _ in answers] == [200] * LIMIT
    assert blocked == (403, FORBIDDEN)
    assert unauthenticated == (403, FORBIDDEN)
    assert invocations(cloud, "HealthFunction") == served
    assert invocations(cloud, "PlaceOrderFunction") == 0
    # And WAF's metrics say so, as the template's alarm reads them (AWS/WAFV2 BlockedRequests)
    assert eventually(lambda: blocked_requests(cloud) >= 2), "BlockedRequests published"

    # And once a (scaled) window has passed without its requests, it is served again
    time.sleep(WINDOW * SCALE + 0.5)
    assert call(cloud, "GET", "/health")[0] == 200
    assert call(cloud, "POST", "/orders")[0] == 401
