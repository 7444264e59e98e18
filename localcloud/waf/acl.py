"""A web ACL of the template, evaluated the way AWS WAF evaluates it for an API Gateway stage.

Rules run in Priority order; the first whose statement matches decides with its action
(Block, Allow; Count only counts and goes on); no rule deciding: the default action. localcloud
understands the statement this template uses, the rate-based statement, aggregated per IP:
`IP` (the connection's source address) or `FORWARDED_IP` (the first address of the configured
header, only then: a header the client writes is trusted only when the rule says so). AWS WAF's
rules for that header: missing, the rule does not apply; not an IP address, the fallback
behaviour (MATCH: the rule's action applies, NO_MATCH: it does not).

The rate is counted over a sliding window of EvaluationWindowSec, every request the rule
inspects included (blocked ones too, as WAF counts its aggregation instances), so a client is
blocked while it sends more than Limit requests in any window and let through again once its
rate falls below. AWS estimates the rate and may act up to ~30 s late ("not intended for precise
request-rate limiting"); localcloud is exact. `window_scale` shortens the window for tests
(0.05: a 60 s window in 3 s), as `alarm_period_scale` does CloudWatch periods.

A statement localcloud does not understand fails when the ACL is read, at start-up, not
silently allowed.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["ALLOW", "BLOCK", "COUNT"]
_ACTIONS: dict[str, Action] = {"Allow": "ALLOW", "Block": "BLOCK", "Count": "COUNT"}
DEFAULT_WINDOW_SECONDS = 300
WINDOWS = (60, 120, 300, 600)  # WAF's valid EvaluationWindowSec
MIN_LIMIT = 10  # WAF's lowest rate limit


class UnsupportedWebAcl(ValueError):
    """The web ACL uses something localcloud's WAF does not evaluate."""


@dataclass(frozen=True)
class Verdict:
    action: Action  # what happens to the request: ALLOW or BLOCK
    rule: str | None  # the metric name of the rule that decided; None: the default action
    counted_by: tuple[str, ...] = ()  # metric names of Count rules that matched


@dataclass
class RateRule:
    name: str
    priority: int
    action: Action
    metric_name: str
    limit: int
    window_seconds: float  # already scaled
    key: Literal["IP", "FORWARDED_IP"] = "IP"
    header: str | None = None  # FORWARDED_IP: the header holding the client's address
    fallback_matches: bool = False  # FORWARDED_IP: an unreadable address matches (MATCH)
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matches(self, source_ip: str, headers: Mapping[str, str]) -> bool:
        key = self._aggregation_key(source_ip, headers)
        if key is None:
            return False
        if key is _FALLBACK_MATCH:
            return True
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window_seconds:
                seen.popleft()
            seen.append(now)
            over = len(seen) > self.limit
            self._forget_idle(now)
        return over

    def _aggregation_key(self, source_ip: str, headers: Mapping[str, str]) -> str | None:
        if self.key == "IP":
            return source_ip
        assert self.header is not None
        value = next((v for k, v in headers.items() if k.lower() == self.header.lower()), None)
        if value is None:
            return None  # WAF: the header is missing, the rule does not apply
        first = value.split(",", 1)[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            return _FALLBACK_MATCH if self.fallback_matches else None

    def _forget_idle(self, now: float) -> None:
        """Drop clients with nothing in the window (called under the lock)."""
        if len(self._seen) < 1024:
            return
        for key in [
            k for k, v in self._seen.items() if not v or v[-1] <= now - self.window_seconds
        ]:
            del self._seen[key]


_FALLBACK_MATCH = "\0fallback-match"


@dataclass
class WebAcl:
    name: str
    metric_name: str
    default_action: Action
    rules: list[RateRule]

    @classmethod
    def from_properties(
        cls,
        properties: Mapping[str, Any],
        *,
        window_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> WebAcl:
        """The web ACL of resolved AWS::WAFv2::WebACL properties."""
        rules = [
            _rate_rule(rule, window_scale, clock)
            for rule in sorted(properties.get("Rules", []), key=lambda r: int(r["Priority"]))
        ]
        return cls(
            name=str(properties["Name"]),
            metric_name=str(properties["VisibilityConfig"]["MetricName"]),
            default_action=_action(properties["DefaultAction"], "DefaultAction"),
            rules=rules,
        )

    def evaluate(self, source_ip: str, headers: Mapping[str, str]) -> Verdict:
        counted: list[str] = []
        for rule in self.rules:
            if not rule.matches(source_ip, headers):
                continue
            if rule.action == "COUNT":
                counted.append(rule.metric_name)
                continue
            return Verdict(rule.action, rule.metric_name, tuple(counted))
        return Verdict(self.default_action, None, tuple(counted))


def _rate_rule(
    rule: Mapping[str, Any], window_scale: float, clock: Callable[[], float]
) -> RateRule:
    name = str(rule["Name"])
    statement = rule.get("Statement", {})
    if set(statement) != {"RateBasedStatement"}:
        raise UnsupportedWebAcl(
            f"web ACL rule {name}: localcloud evaluates RateBasedStatement only, "
            f"not {sorted(statement)}"
        )
    rate = statement["RateBasedStatement"]
    unsupported = set(rate) - {
        "Limit",
        "EvaluationWindowSec",
        "AggregateKeyType",
        "ForwardedIPConfig",
    }
    if unsupported:
        raise UnsupportedWebAcl(
            f"web ACL rule {name}: localcloud does not evaluate {sorted(unsupported)}"
        )
    key = rate.get("AggregateKeyType", "IP")
    if key not in ("IP", "FORWARDED_IP"):
        raise UnsupportedWebAcl(f"web ACL rule {name}: AggregateKeyType {key} is not evaluated")
    limit = int(rate["Limit"])
    window = int(rate.get("EvaluationWindowSec", DEFAULT_WINDOW_SECONDS))
    if limit < MIN_LIMIT or window not in WINDOWS:  # what WAF refuses, localcloud refuses
        raise ValueError(
            f"web ACL rule {name}: Limit must be at least {MIN_LIMIT} and EvaluationWindowSec "
            f"one of {WINDOWS} (got {limit}, {window})"
        )
    forwarded = rate.get("ForwardedIPConfig") or {}
    if key == "FORWARDED_IP" and not forwarded.get("HeaderName"):
        raise ValueError(f"web ACL rule {name}: FORWARDED_IP needs ForwardedIPConfig.HeaderName")
    return RateRule(
        name=name,
        priority=int(rule["Priority"]),
        action=_action(rule["Action"], f"rule {name}"),
        metric_name=str(rule.get("VisibilityConfig", {}).get("MetricName", name)),
        limit=limit,
        window_seconds=window * window_scale,
        key=key,
        header=forwarded.get("HeaderName") if key == "FORWARDED_IP" else None,
        fallback_matches=forwarded.get("FallbackBehavior") == "MATCH",
        clock=clock,
    )


def _action(value: Mapping[str, Any], where: str) -> Action:
    (name,) = value.keys() if len(value) == 1 else (None,)
    if name not in _ACTIONS:
        raise UnsupportedWebAcl(f"web ACL {where}: action {sorted(value)} is not evaluated")
    return _ACTIONS[name]


def create_web_acl_request(properties: Mapping[str, Any]) -> dict[str, Any]:
    """wafv2 CreateWebACL's arguments for resolved AWS::WAFv2::WebACL properties (template
    parameters arrive as strings; the API wants numbers)."""
    rules = []
    for given in properties.get("Rules", []):
        rule = {**given, "Priority": int(given["Priority"])}
        rate = rule.get("Statement", {}).get("RateBasedStatement")
        if rate is not None:
            rate = dict(rate)
            rate["Limit"] = int(rate["Limit"])
            if "EvaluationWindowSec" in rate:
                rate["EvaluationWindowSec"] = int(rate["EvaluationWindowSec"])
            rule["Statement"] = {**rule["Statement"], "RateBasedStatement": rate}
        rules.append(rule)
    request = {
        key: properties[key]
        for key in ("Name", "Scope", "DefaultAction", "VisibilityConfig", "Description")
        if key in properties
    }
    request["Rules"] = rules
    return request
