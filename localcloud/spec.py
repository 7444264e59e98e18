"""What localcloud knows about the template's parts, with every intrinsic already resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Lambda::Function of the translated template."""

    logical_id: str  # e.g. "PlaceOrderFunction"; also its function name in localcloud
    handler: str  # e.g. "place_order.handler"
    code_dir: Path  # absolute path of CodeUri
    layer_dirs: tuple[Path, ...]  # absolute paths of the layers' ContentUri (on PYTHONPATH)
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]  # the template's variables, resolved
    runtime: str = "python3.13"  # the template's Runtime (AWS_EXECUTION_ENV follows it)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions; None = unreserved

    @property
    def name(self) -> str:
        return self.logical_id

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.logical_id}"


@dataclass(frozen=True)
class ApiRoute:
    """One Api event of a function: METHOD + resource path template under the stage."""

    function: str  # logical id of the function
    method: str  # upper case, e.g. "GET"
    path: str  # resource path as in the template, e.g. "/orders/{orderId}"
    authorizer: str | None  # name of a Cognito authorizer, or None for Authorizer: NONE
    # The integration's cacheKeyParameters (RequestParameters with Caching: true), such as
    # "method.request.querystring.cursor": what the stage cache keys this method's answers on.
    cache_key_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    template: str | None  # the application/json response template
    headers: dict[str, str] = field(default_factory=dict)  # ResponseParameters' static headers


@dataclass(frozen=True)
class MockIntegration:
    """A method API Gateway answers itself (a MOCK integration), such as the CORS preflight SAM
    adds for `Cors`: its default response, with static header values."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class MethodCacheSetting:
    """The cache fields of one entry of the stage's MethodSettings (None: not set there)."""

    resource_path: str  # decoded ("/products/{sku}"), or "/*" for every resource
    http_method: str  # "GET", or "*" for every method
    caching_enabled: bool | None = None
    ttl_seconds: int | None = None
    require_authorization: bool | None = None  # RequireAuthorizationForCacheControl
    unauthorized_strategy: str | None = None  # UnauthorizedCacheControlHeaderStrategy


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    stage: str  # "v1": requests are served under /<stage>/...
    routes: tuple[ApiRoute, ...]
    cognito_authorizers: dict[str, str]  # authorizer name -> user pool logical id
    throttle_rate: float | None  # requests per second (stage MethodSettings)
    throttle_burst: int | None
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    mocks: tuple[MockIntegration, ...] = ()
    cache_cluster_enabled: bool = False  # the stage's CacheClusterEnabled
    cache_settings: tuple[MethodCacheSetting, ...] = ()
