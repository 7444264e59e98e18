"""API Gateway's stage cache (REST APIs), as the Developer Guide describes it.

- The stage has a cache only with `CacheClusterEnabled`; a method is cached only when its
  method setting says `CachingEnabled`. A stage-wide setting (`/*` and `*`) turns it on for GET
  methods only ("only GET methods have caching enabled by default"); another method needs a
  setting of its own. Entries live `CacheTtlInSeconds` (default 300, at most 3600; 0: off).
- The key is the method, the resource (its path template, not the request's path) and the
  values of the method's cache key parameters (`cacheKeyParameters` of its integration:
  `method.request.path|querystring|multivaluequerystring|header.NAME`). Anything else in the
  request is not in the key: a path parameter or a query string that is not a key parameter
  gets the answer cached for another value. The template declares them (RequestParameters
  with Caching: true).
- What is cached is the integration's answer, whatever its status: with a Lambda proxy
  integration API Gateway cannot be told to skip a 4xx or 5xx (its documented behaviour has no
  status filter; see README, "Caching"). Answers API Gateway makes itself (no route, 401, 429,
  a function error's 502) never reach the cache. Bodies above 1,048,576 bytes are not cached.
- `Cache-Control: max-age=0` on a request skips the cached entry and replaces it with a fresh
  answer, when the caller may: with `RequireAuthorizationForCacheControl` (default true), only
  a caller allowed `execute-api:InvalidateCache` on the method (an IAM-signed request); other
  callers get `UnauthorizedCacheControlHeaderStrategy`: FAIL_WITH_403,
  SUCCEED_WITH_RESPONSE_HEADER (served as if the header were absent, with a Warning header) or
  SUCCEED_WITHOUT_RESPONSE_HEADER.
- The cache sits behind the method's authorizer (a refused caller never reads it) and knows
  nothing of who called: a method that answers per caller must never be cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.spec import ApiRoute, ApiSpec

MAX_CACHED_BODY_BYTES = 1_048_576
DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 3600
FAIL_WITH_403 = "FAIL_WITH_403"
SUCCEED_WITH_RESPONSE_HEADER = "SUCCEED_WITH_RESPONSE_HEADER"
SUCCEED_WITHOUT_RESPONSE_HEADER = "SUCCEED_WITHOUT_RESPONSE_HEADER"
STRATEGIES = frozenset(
    {FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER, SUCCEED_WITHOUT_RESPONSE_HEADER}
)
# The Warning API Gateway adds for SUCCEED_WITH_RESPONSE_HEADER (wording not checked against
# AWS: the Developer Guide says only "add a warning header in the response").
UNAUTHORIZED_WARNING = '199 - "Cache-Control header ignored: caller may not invalidate the cache"'
# Entries localcloud keeps at most (AWS sizes the cache in GB: 0.5 GB holds far more than a
# local run makes); the least recently used goes first.
MAX_ENTRIES = 10_000
_KEY_SOURCES = ("path", "querystring", "multivaluequerystring", "header")


@dataclass(frozen=True)
class MethodCacheSettings:
    """A method's effective cache settings (its stage's MethodSettings, resolved)."""

    enabled: bool = False
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    require_authorization: bool = True
    unauthorized_strategy: str = SUCCEED_WITH_RESPONSE_HEADER

    def __post_init__(self) -> None:
        if not 0 <= self.ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"CacheTtlInSeconds must be 0 to {MAX_TTL_SECONDS}")
        if self.unauthorized_strategy not in STRATEGIES:
            raise ValueError(f"unknown UnauthorizedCacheControlHeaderStrategy: {self!r}")

    @property
    def caches(self) -> bool:
        return self.enabled and self.ttl_seconds > 0


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    expires_at: float

    def response(self) -> Response:
        response = Response(self.body, status=self.status)
        response.headers.clear()
        for name, value in self.headers:
            response.headers.add(name, value)
        return response


class InvalidationRefused(Exception):
    """FAIL_WITH_403: a caller who may not invalidate sent `Cache-Control: max-age=0`."""


CacheKey = tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]


def cache_key(route: ApiRoute, request: Request, path_parameters: Mapping[str, str]) -> CacheKey:
    """Method, resource path and the value(s) of each cache key parameter (None: absent)."""
    values: list[tuple[str, tuple[str, ...]]] = []
    for parameter in route.cache_key_parameters:
        source, _, name = parameter.removeprefix("method.request.").partition(".")
        found: tuple[str, ...]
        if source not in _KEY_SOURCES or not name:
            raise ValueError(f"not a cache key parameter: {parameter}")
        if source == "path":
            found = (path_parameters[name],) if name in path_parameters else ()
        elif source == "header":
            found = tuple(request.headers.getlist(name))
        else:
            found = tuple(request.args.getlist(name))
            if source == "querystring":
                found = found[-1:]  # the single-value map keeps the last one
        values.append((parameter, found))
    return route.method, route.path, tuple(values)


def wants_fresh_answer(request: Request) -> bool:
    """`Cache-Control: max-age=0` among the request's Cache-Control directives."""
    for line in request.headers.getlist("Cache-Control"):
        for directive in line.split(","):
            name, _, value = directive.strip().partition("=")
            if name.strip().lower() == "max-age" and value.strip().strip('"') == "0":
                return True
    return False


def effective_settings(api: ApiSpec, route: ApiRoute) -> MethodCacheSettings:
    """The route's cache settings: the stage-wide entry (`/*`, `*`), then the method's own
    entry over it, field by field. A stage-wide CachingEnabled reaches GET methods only."""
    merged: dict[str, Any] = {}
    exact = [
        setting
        for setting in api.cache_settings
        if setting.resource_path == route.path and setting.http_method == route.method
    ]
    stage_wide = [
        setting
        for setting in api.cache_settings
        if setting.resource_path == "/*" and setting.http_method == "*"
    ]
    for setting in [*stage_wide, *exact]:
        for field, value in (
            ("enabled", setting.caching_enabled),
            ("ttl_seconds", setting.ttl_seconds),
            ("require_authorization", setting.require_authorization),
            ("unauthorized_strategy", setting.unauthorized_strategy),
        ):
            if value is None:
                continue
            if field == "enabled" and setting.http_method == "*" and route.method != "GET":
                continue
            merged[field] = value
    return MethodCacheSettings(**merged)


class StageCache:
    """The cache of one stage: entries by key, each until its method's TTL runs out.

    `may_invalidate(request, method_arn)` says whether the caller is allowed
    execute-api:InvalidateCache on the method (None: nobody is). `on_lookup(hit)` is told of
    every request a caching method serves (CloudWatch's CacheHitCount / CacheMissCount).
    """

    def __init__(
        self,
        api: ApiSpec,
        *,
        clock: Callable[[], float] = time.monotonic,
        may_invalidate: Callable[[Request, str], bool] | None = None,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._api = api
        self._settings = (
            {(route.method, route.path): effective_settings(api, route) for route in api.routes}
            if api.cache_cluster_enabled
            else {}
        )
        self._clock = clock
        self._may_invalidate = may_invalidate
        self._on_lookup = on_lookup
        self._entries: OrderedDict[CacheKey, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def settings(self, route: ApiRoute) -> MethodCacheSettings | None:
        """The route's settings when the stage has a cache and the method caches, else None."""
        settings = self._settings.get((route.method, route.path))
        return settings if settings is not None and settings.caches else None

    def serve(
        self,
        route: ApiRoute,
        request: Request,
        path_parameters: Mapping[str, str],
        fetch: Callable[[], Response],
    ) -> Response:
        """The cached answer to this request, else `fetch()`'s, kept for the method's TTL.
        InvalidationRefused for FAIL_WITH_403; whatever `fetch` raises passes, uncached."""
        settings = self.settings(route)
        if settings is None:
            return fetch()
        key = cache_key(route, request, path_parameters)
        fresh = wants_fresh_answer(request)
        warning = False
        if fresh and settings.require_authorization and not self._allowed(request, route):
            if settings.unauthorized_strategy == FAIL_WITH_403:
                raise InvalidationRefused("Unauthorized")
            fresh = False
            warning = settings.unauthorized_strategy == SUCCEED_WITH_RESPONSE_HEADER
        entry = None if fresh else self._get(key)
        self._count(hit=entry is not None)
        if entry is not None:
            response = entry.response()
        else:
            response = fetch()
            self._put(key, response, settings.ttl_seconds)
        if warning:
            response.headers.add("Warning", UNAUTHORIZED_WARNING)
        return response

    def flush(self) -> None:
        """FlushStageCache: every entry goes."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _allowed(self, request: Request, route: ApiRoute) -> bool:
        if self._may_invalidate is None:
            return False
        stage_prefix = f"/{self._api.stage}"
        path = request.path.removeprefix(stage_prefix) or "/"
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self._api.logical_id}/"
            f"{self._api.stage}/{route.method}{path}"
        )
        return self._may_invalidate(request, method_arn)

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
        if self._on_lookup is not None:
            self._on_lookup(hit)

    def _get(self, key: CacheKey) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_at <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def _put(self, key: CacheKey, response: Response, ttl_seconds: int) -> None:
        body = response.get_data()
        if len(body) > MAX_CACHED_BODY_BYTES:
            return
        entry = CachedAnswer(
            status=response.status_code,
            headers=tuple(response.headers.items()),
            body=body,
            expires_at=self._clock() + ttl_seconds,
        )
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
