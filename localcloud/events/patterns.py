"""EventBridge event patterns checked the way PutRule checks them.

moto's `EventPatternParser` refuses only leaves that are not lists and empty lists; a
matcher it does not know (`{"foo": ...}`, `{"numeric": [">", "x"]}`, a misspelt
`"anything_but"`) is accepted and then matches every event. EventBridge compiles a pattern
with AWS's own Event Ruler (github.com/aws/event-ruler, `JsonRuleCompiler`) and refuses
what it cannot compile, with `InvalidEventPatternException`. `validate_event_pattern`
follows that compiler rule by rule, with its messages; `install` puts it in front of moto's
parser, so PutRule, TestEventPattern and a Lambda filter (`FilterCriteria`) all refuse what
AWS refuses.

Two differences, written down: AWS appends Jackson's position (` at [Source: ...; line: 1,
column: N]`) to the reason, which this does not; and Event Ruler's undocumented `exactly`
matcher is refused ("Unrecognized match type"), because EventBridge does not document it
and moto could not match it anyway.
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

OR = "$or"
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
_ANYTHING_BUT_SETS = ("equals-ignore-case", "prefix", "suffix", "wildcard")
_ONE_KEY = "Only one key allowed in match expression"
_TOO_MANY_NUMERIC = "Too many elements in numeric expression"


class InvalidEventPattern(ValueError):
    """A pattern EventBridge refuses; `reason` is Event Ruler's message."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason


def validate_event_pattern(pattern: Any) -> None:
    """Raise InvalidEventPattern unless EventBridge would accept `pattern` (parsed JSON)."""
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    _object(pattern, in_or=False)


def _object(node: dict[str, Any], *, in_or: bool) -> None:
    if not node:
        raise InvalidEventPattern("Empty objects are not allowed")
    for name, value in node.items():
        if name == OR:
            _or(value)
            continue
        if in_or and name in _RESERVED_IN_OR:
            raise InvalidEventPattern(
                f"{name} is Ruler reserved fieldName which cannot be used inside {OR}."
            )
        if isinstance(value, dict):
            _object(value, in_or=in_or)
        elif isinstance(value, list):
            _values(value)
        else:
            raise InvalidEventPattern(f'"{name}" must be an object or an array')


def _or(branches: Any) -> None:
    if not isinstance(branches, list):
        raise InvalidEventPattern(f"It must be an Array followed with {OR}.")
    for branch in branches:
        if not isinstance(branch, dict):
            raise InvalidEventPattern(f"Only JSON object is allowed in array of {OR} relationship.")
        _object(branch, in_or=True)
    if len(branches) < 2:
        raise InvalidEventPattern(f"There must have at least 2 Objects in {OR} relationship.")


def _values(values: list[Any]) -> None:
    for value in values:
        if isinstance(value, dict):
            _match_expression(value)
        elif isinstance(value, list):
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
        elif _is_number(value):
            continue  # Ruler also keeps the literal when the number is not comparable
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")


def _match_expression(expression: dict[str, Any]) -> None:
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    (name, value), *others = expression.items()
    check = _MATCHERS.get(name)
    if check is None:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    extra_keys_message = check(name, value)
    if others:
        raise InvalidEventPattern(extra_keys_message)


def _prefix_or_suffix(name: str, value: Any) -> str:
    if isinstance(value, dict):
        _string_matcher_ignoring_case(name, value)
    elif not isinstance(value, str):
        raise InvalidEventPattern(f"{name} match pattern must be a string")
    return _ONE_KEY


def _numeric_matcher(name: str, value: Any) -> str:
    if not isinstance(value, list):
        raise InvalidEventPattern("Value of numeric must be an array.")
    _numeric(value)
    return _TOO_MANY_NUMERIC


def _exists(name: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise InvalidEventPattern("exists match pattern must be either true or false.")
    return _ONE_KEY


def _cidr_matcher(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEventPattern("prefix match pattern must be a string")
    _cidr(value)
    return _ONE_KEY


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEventPattern(f"{name} match pattern must be a string")
    if name == "wildcard":
        _wildcard(value)
    return _ONE_KEY


def _string_matcher_ignoring_case(name: str, inner: dict[str, Any]) -> None:
    """{"prefix": {"equals-ignore-case": "..."}} and the same for suffix."""
    if not inner:
        raise InvalidEventPattern(f"{name.capitalize()} expression name not found")
    items = list(inner.items())
    operator, value = items[0]
    if operator != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {name} pattern: {operator}")
    if not isinstance(value, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    if len(items) > 1:
        raise InvalidEventPattern(_ONE_KEY)


def _anything_but(name: str, value: Any) -> str:
    kind = None
    if isinstance(value, dict):
        if not value:
            raise InvalidEventPattern("Anything-But expression name not found")
        (kind, value), *others = value.items()
        if kind not in _ANYTHING_BUT_SETS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {kind}")
        if others:
            raise InvalidEventPattern(_TOO_MANY_NUMERIC)
    if not (isinstance(value, (list, str)) or _is_number(value)):
        raise InvalidEventPattern(
            "Value of anything-but must be an array or single string/number value."
        )
    values = value if isinstance(value, list) else [value]
    if kind is None:
        if isinstance(value, list):
            _anything_but_list(values)
    else:
        for each in values:
            _anything_but_set_member(kind, each)
    return _TOO_MANY_NUMERIC


def _anything_but_list(values: list[Any]) -> None:
    if any(not (isinstance(v, str) or _is_number(v)) for v in values):
        raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
    numbers = [v for v in values if _is_number(v)]
    for number in numbers:
        _comparable(number)
    if not values or 0 < len(numbers) < len(values):
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )


def _anything_but_set_member(kind: str, value: Any) -> None:
    """One value of anything-but's equals-ignore-case, prefix, suffix or wildcard."""
    if not isinstance(value, str):
        if kind == "equals-ignore-case":
            raise InvalidEventPattern(
                "Inside anything-but/equals-ignore-case list, "
                "number|start|null|boolean is not supported."
            )
        if kind == "wildcard":
            raise InvalidEventPattern("wildcard match pattern must be a string")
        raise InvalidEventPattern("prefix/suffix match pattern must be a string")
    if kind in ("prefix", "suffix") and not value:
        raise InvalidEventPattern("Null prefix/suffix not allowed")
    if kind == "wildcard":
        _wildcard(value)


def _numeric(terms: list[Any]) -> None:
    if not terms or not isinstance(terms[0], str):
        shown = "]" if not terms else json.dumps(terms[0])
        raise InvalidEventPattern(f"Invalid member in numeric match: {shown}")
    operator = terms[0]
    if operator not in ("=", ">=", ">", "<=", "<"):
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
    name = "equals" if operator == "=" else operator
    if len(terms) < 2 or not _is_number(terms[1]):
        raise InvalidEventPattern(f"Value of {name} must be numeric")
    bottom = _comparable(terms[1])
    if operator in ("=", "<=", "<") or len(terms) == 2:
        if len(terms) > 2:
            raise InvalidEventPattern(_TOO_MANY_NUMERIC)
        return
    upper = terms[2]
    if not isinstance(upper, str):
        raise InvalidEventPattern(f"Bad value in numeric range: {json.dumps(upper)}")
    if upper not in ("<", "<="):
        raise InvalidEventPattern(f"Bad numeric range operator: {upper}")
    if len(terms) < 4 or not _is_number(terms[3]):
        raise InvalidEventPattern(f"Value of {upper} must be numeric")
    if len(terms) > 4:
        raise InvalidEventPattern("Too many terms in numeric range expression")
    if _comparable(terms[3]) <= bottom:
        raise InvalidEventPattern("Bottom must be less than top")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(value: int | float) -> float:
    """Ruler compares numbers as doubles and refuses one a double can't hold exactly."""
    as_float = float(value)
    try:
        exact = Decimal(str(value)) == Decimal(as_float)
    except InvalidOperation:
        exact = False
    if math.isnan(as_float) or math.isinf(as_float) or not exact:
        raise InvalidEventPattern(f"Cannot compare number : {value}")
    return as_float


def _cidr(value: str) -> None:
    parts = value.split("/")
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    address, bits = parts
    try:
        mask = int(bits)
    except ValueError:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer") from None
    if mask < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidEventPattern(f"Invalid IP address: {address}") from None
    if ip.version == 4 and mask > 31:
        raise InvalidEventPattern("IPv4 mask bits must be < 32")
    if ip.version == 6 and mask > 127:
        raise InvalidEventPattern("IPv6 mask bits must be < 128")


def _wildcard(text: str) -> None:
    # Ruler parses the value with its surrounding quotes, so positions count from 1.
    data = f'"{text}"'.encode()
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"**":
            raise InvalidEventPattern(f"Consecutive wildcard characters at pos {i}")
        if data[i : i + 1] == b"\\":
            if data[i + 1 : i + 2] in (b"*", b"\\"):
                i += 2
                continue
            raise InvalidEventPattern(f"Invalid escape character at pos {i}")
        i += 1


_MATCHERS: dict[str, Callable[[str, Any], str]] = {
    "prefix": _prefix_or_suffix,
    "suffix": _prefix_or_suffix,
    "numeric": _numeric_matcher,
    "anything-but": _anything_but,
    "exists": _exists,
    "cidr": _cidr_matcher,
    "equals-ignore-case": _string,
    "wildcard": _string,
}


# ---------------------------------------------------------------------- moto
_install_lock = threading.Lock()


def install() -> None:
    """Check every pattern moto parses (PutRule, TestEventPattern, Lambda filters) as AWS does.

    A wrapper around `moto.events.models.EventPatternParser.parse`, installed once per process
    by the LocalCloud facade: ours runs first (moto's own checks assume an object), then
    moto's; a refusal is moto's `InvalidEventPatternException` (HTTP 400, as PutRule answers).
    A rule without a pattern (a schedule) is not checked, as on AWS.
    """
    from moto.events.exceptions import InvalidEventPatternException
    from moto.events.models import EventPatternParser

    with _install_lock:
        moto_parse = EventPatternParser.parse
        if getattr(moto_parse, "localcloud", False):
            return

        def parse(self: EventPatternParser) -> dict[str, Any]:
            if self.pattern:
                try:
                    pattern = json.loads(self.pattern)
                except json.JSONDecodeError:
                    return moto_parse(self)  # moto's "Invalid JSON"
                try:
                    validate_event_pattern(pattern)
                except InvalidEventPattern as error:
                    raise InvalidEventPatternException(reason=error.reason) from None
            return moto_parse(self)

        parse.localcloud = True  # type: ignore[attr-defined]
        EventPatternParser.parse = parse  # type: ignore[method-assign]
