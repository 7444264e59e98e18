"""IAM policy evaluation: does a policy set allow an action on a resource, in this context?

AWS's documented logic (IAM User Guide, "Policy evaluation logic"), for one account:
an explicit Deny in any applicable policy wins; otherwise an Allow grants; otherwise the
request is implicitly denied. A statement applies when its Action (or NotAction), Resource
(or NotResource), Principal (resource policies) and every Condition match.

Why not a library: moto's evaluator (`moto/iam/access_control.py`, `IAMPolicyStatement`)
treats an Allow whose condition fails as an explicit Deny, ignores every condition operator
but StringEquals (so `ArnEquals aws:SourceArn` and `ForAllValues:StringLike
dynamodb:LeadingKeys` would always pass), matches actions case-sensitively and does not
escape regex characters in patterns. No maintained Python package evaluates a request
against identity and resource policies with conditions (policyuniverse parses and expands;
iam-ape summarises a principal's permissions; @cloud-copilot/iam-simulate does this in
TypeScript). So the evaluation is here, small, and tested in tests/unit/localcloud.

Modelled: Allow/Deny, Action/NotAction (case-insensitive, `*` and `?`), Resource/NotResource,
Principal/NotPrincipal (`*`, `AWS`, `Service`), the condition operators of the String,
Numeric, Date, Bool, Null, Arn, BinaryEquals and IpAddress families, `...IfExists`, and the
`ForAllValues:` / `ForAnyValue:` set qualifiers. Not modelled: policy variables
(`${aws:username}`), permissions boundaries, session policies, SCPs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any


class PolicyError(ValueError):
    """A policy localcloud can't evaluate faithfully (say which, instead of guessing)."""


class Decision(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Principal:
    """Who calls: an IAM principal's ARN (`kind="AWS"`) or a service (`kind="Service"`)."""

    kind: str  # "AWS" | "Service"
    identifier: str  # role/assumed-role ARN, or "events.amazonaws.com"
    account: str | None = None  # the principal's account, for "AWS": "123456789012"


@dataclass(frozen=True)
class Request:
    action: str  # "dynamodb:PutItem"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)  # condition keys
    principal: Principal | None = None  # needed by resource policies only

    def values(self, key: str) -> Sequence[str] | None:
        """Condition keys are case-insensitive; None when the request has no such key."""
        for name, values in self.context.items():
            if name.lower() == key.lower():
                return values
        return None


# ---------------------------------------------------------------------- patterns
@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    wildcards = {"*": ".*", "?": "."}
    regex = "".join(wildcards.get(c) or re.escape(c) for c in pattern)
    return re.compile(regex, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` exactly one."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own, with wildcards."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# ---------------------------------------------------------------------- conditions
def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    try:
        return float(text)  # epoch seconds are allowed too
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _compare(convert: Callable[[str], float], test: Callable[[float, float], bool]) -> _Matcher:
    def matcher(value: str, expected: str) -> bool:
        try:
            return test(convert(value), convert(expected))
        except ValueError:
            return False

    return matcher


def _ip(value: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


_Matcher = Callable[[str, str], bool]

# Positive operators; each "...Not..." operator below is the negation of one of these.
_POSITIVE: dict[str, _Matcher] = {
    "StringEquals": lambda v, e: v == e,
    "StringEqualsIgnoreCase": lambda v, e: v.lower() == e.lower(),
    "StringLike": lambda v, e: glob_match(e, v),
    "NumericEquals": _compare(_number, lambda a, b: a == b),
    "NumericLessThan": _compare(_number, lambda a, b: a < b),
    "NumericLessThanEquals": _compare(_number, lambda a, b: a <= b),
    "NumericGreaterThan": _compare(_number, lambda a, b: a > b),
    "NumericGreaterThanEquals": _compare(_number, lambda a, b: a >= b),
    "DateEquals": _compare(_date, lambda a, b: a == b),
    "DateLessThan": _compare(_date, lambda a, b: a < b),
    "DateLessThanEquals": _compare(_date, lambda a, b: a <= b),
    "DateGreaterThan": _compare(_date, lambda a, b: a > b),
    "DateGreaterThanEquals": _compare(_date, lambda a, b: a >= b),
    "Bool": lambda v, e: v.lower() == e.lower(),
    "BinaryEquals": lambda v, e: v == e,
    "IpAddress": _ip,
    "ArnEquals": lambda v, e: arn_match(e, v),  # both take wildcards in each ARN part
    "ArnLike": lambda v, e: arn_match(e, v),
}
_NEGATED: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


@dataclass(frozen=True)
class Condition:
    """One operator applied to one key, e.g. `ForAllValues:StringLike dynamodb:LeadingKeys`."""

    operator: str
    key: str
    expected: tuple[str, ...]

    def __post_init__(self) -> None:
        self._parts()  # refuse an operator localcloud does not know at load, not per request

    def _parts(self) -> tuple[str | None, str, bool]:
        qualifier, _, base = self.operator.rpartition(":")
        if qualifier not in ("", "ForAllValues", "ForAnyValue"):
            raise PolicyError(f"unknown condition set operator {self.operator!r}")
        if_exists = base.endswith("IfExists") and base != "IfExists"
        base = base.removesuffix("IfExists") if if_exists else base
        if base not in _POSITIVE and base not in _NEGATED and base != "Null":
            raise PolicyError(f"condition operator {self.operator!r} is not supported")
        return qualifier or None, base, if_exists

    def matches(self, request: Request) -> bool:
        qualifier, base, if_exists = self._parts()
        values = request.values(self.key)
        if base == "Null":  # "true": the key must be absent; "false": present
            absent = not values
            return any(absent == (e.lower() == "true") for e in self.expected)
        negated = base in _NEGATED
        test = _POSITIVE[_NEGATED.get(base, base)]

        def one(value: str) -> bool:
            hit = any(test(value, expected) for expected in self.expected)
            return not hit if negated else hit

        if qualifier == "ForAllValues":  # every value matches; vacuously true when none
            return all(one(v) for v in values or ())
        if qualifier == "ForAnyValue":
            return any(one(v) for v in values or ())
        if not values:
            # A missing key: no match, except for IfExists and the negated operators.
            return if_exists or negated
        return any(one(v) for v in values)


# ---------------------------------------------------------------------- statements
@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    actions_negated: bool  # NotAction
    resources: tuple[str, ...] | None  # None: no Resource element (trust policies)
    resources_negated: bool  # NotResource
    principals: Mapping[str, tuple[str, ...]] | None  # None: identity policy
    principals_negated: bool
    conditions: tuple[Condition, ...]
    sid: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement Effect must be Allow or Deny, got {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError("a statement needs exactly one of Action and NotAction")
        if "Resource" in raw and "NotResource" in raw:
            raise PolicyError("a statement can't have both Resource and NotResource")
        resource_key = "NotResource" if "NotResource" in raw else "Resource"
        principal_key = "NotPrincipal" if "NotPrincipal" in raw else "Principal"
        principals = None
        if principal_key in raw:
            raw_principal = raw[principal_key]
            principals = (
                {"*": ("*",)}
                if raw_principal == "*"
                else {k: tuple(str(v) for v in _as_list(vs)) for k, vs in raw_principal.items()}
            )
        conditions = tuple(
            Condition(operator, key, tuple(str(v) for v in _as_list(expected)))
            for operator, keys in (raw.get("Condition") or {}).items()
            for key, expected in keys.items()
        )
        return cls(
            effect=effect,
            actions=tuple(str(a) for a in _as_list(raw.get("Action", raw.get("NotAction")))),
            actions_negated="NotAction" in raw,
            resources=(
                tuple(str(r) for r in _as_list(raw[resource_key])) if resource_key in raw else None
            ),
            resources_negated=resource_key == "NotResource",
            principals=principals,
            principals_negated=principal_key == "NotPrincipal",
            conditions=conditions,
            sid=raw.get("Sid"),
        )

    def applies_to(self, request: Request) -> bool:
        if _any_action_matches(self.actions, request.action) == self.actions_negated:
            return False
        if self.resources is not None:
            resource_hit = _any_resource_matches(self.resources, request.resource)
            if resource_hit == self.resources_negated:
                return False
        if self.principals is not None:
            principal_hit = _principal_match(self.principals, request.principal)
            if principal_hit == self.principals_negated:
                return False
        return all(condition.matches(request) for condition in self.conditions)


# A statement's actions and resources are fixed and a template's roles name a few dozen of
# each, so whether a statement's list matches an action or resource is kept: every call to the
# endpoint is evaluated against every statement of its role (some 70 glob matches a call).
# Conditions are evaluated anew each time (their keys carry the request's item keys).
@lru_cache(maxsize=16384)
def _any_action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(glob_match(pattern, action, ignore_case=True) for pattern in patterns)


@lru_cache(maxsize=16384)
def _any_resource_matches(patterns: tuple[str, ...], resource: str) -> bool:
    return any(_resource_match(pattern, resource) for pattern in patterns)


def _resource_match(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":  # an action without resource-level permissions needs "*"
        return False
    return arn_match(pattern, resource)


def _principal_match(principals: Mapping[str, tuple[str, ...]], caller: Principal | None) -> bool:
    if "*" in principals:
        return True
    if caller is None:
        return False
    for expected in principals.get(caller.kind, ()):
        if expected in ("*", caller.identifier):
            return True
        # An account (its id or its root ARN) stands for every principal in it.
        account_names = (caller.account, f"arn:aws:iam::{caller.account}:root")
        if caller.kind == "AWS" and caller.account is not None and expected in account_names:
            return True
    return False


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, name: str, document: Mapping[str, Any]) -> Policy:
        try:
            raw = document["Statement"]
        except (KeyError, TypeError):
            raise PolicyError(f"policy {name} has no Statement") from None
        try:
            statements = tuple(Statement.parse(s) for s in _as_list(raw))
        except PolicyError as error:
            raise PolicyError(f"policy {name}: {error}") from None
        return cls(name, statements)


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    """AWS's evaluation for one account: an explicit Deny wins, then an Allow, else deny."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if not statement.applies_to(request):
                continue
            if statement.effect == "Deny":
                return Decision.EXPLICIT_DENY
            allowed = True
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY
