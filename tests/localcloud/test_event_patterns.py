"""EventBridge patterns: localcloud refuses at PutRule what EventBridge refuses.

moto alone accepts any matcher name and then matches every event with it; AWS compiles the
pattern with Event Ruler and refuses it. The rules are checked here one by one, and once
through provisioning, where a template with a misspelt matcher must fail to start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.events.patterns import InvalidEventPattern, validate_event_pattern
from tests.support.localcloud_process import localcloud_process

FIXTURES = Path(__file__).parent / "fixtures"

VALID = [
    {"source": ["shop.orders"], "detail-type": ["OrderPlaced", "OrderConfirmed"]},
    {"detail": {"metadata": {"eventId": [{"exists": True}]}, "n": [1, None, True, "x"]}},
    {"detail": {"n": [{"numeric": [">", 0, "<=", 5]}, {"numeric": ["=", 3.5]}]}},
    {"detail": {"s": [{"prefix": "a"}, {"suffix": ".png"}, {"equals-ignore-case": "X"}]}},
    {"detail": {"s": [{"prefix": {"equals-ignore-case": "ab"}}, {"wildcard": "a*b\\*"}]}},
    {"detail": {"s": [{"anything-but": ["a", "b"]}, {"anything-but": 5}]}},
    {"detail": {"s": [{"anything-but": {"prefix": "tmp-"}}]}},
    {"detail": {"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}},
    {"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}},
    {"source": ["a"], "$or": [{"detail": {"x": ["1"]}}, {"detail": {"y": ["2"]}}]},
]

INVALID = [
    ([], "Filter is not an object"),
    ({}, "Empty objects are not allowed"),
    ({"source": "shop.orders"}, '"source" must be an object or an array'),
    ({"source": []}, "Empty arrays are not allowed"),
    ({"source": [["nested"]]}, "Match value must be String, number, true, false, or null"),
    ({"source": [{"foo": "x"}]}, "Unrecognized match type foo"),
    ({"source": [{"anything_but": ["x"]}]}, "Unrecognized match type anything_but"),
    ({"source": [{}]}, "Match expression name not found"),
    ({"source": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed in match expression"),
    ({"source": [{"prefix": 1}]}, "prefix match pattern must be a string"),
    ({"source": [{"prefix": {"foo": "a"}}]}, "Unsupported prefix pattern: foo"),
    ({"n": [{"numeric": ">"}]}, "Value of numeric must be an array."),
    ({"n": [{"numeric": [">", "x"]}]}, "Value of > must be numeric"),
    ({"n": [{"numeric": ["!=", 1]}]}, "Unrecognized numeric range operator: !="),
    ({"n": [{"numeric": ["<", 5, ">", 3]}]}, "Too many elements in numeric expression"),
    ({"n": [{"numeric": [">", 5, "=", 9]}]}, "Bad numeric range operator: ="),
    ({"n": [{"numeric": [">", 5, "<", 3]}]}, "Bottom must be less than top"),
    ({"s": [{"anything-but": True}]}, "Value of anything-but must be an array or single"),
    ({"s": [{"anything-but": [1, "a"]}]}, "mixed type is not supported"),
    ({"s": [{"anything-but": [None]}]}, "start|null|boolean is not supported"),
    ({"s": [{"anything-but": {"numeric": [">", 1]}}]}, "Unsupported anything-but pattern"),
    ({"s": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
    ({"s": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
    ({"s": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 2"),
    ({"s": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
    ({"ip": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
    ({"ip": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
    ({"$or": [{"a": ["1"]}]}, "There must have at least 2 Objects in $or relationship."),
    ({"$or": {"a": ["1"]}}, "It must be an Array followed with $or."),
    ({"$or": [{"numeric": ["1"]}, {"b": ["2"]}]}, "numeric is Ruler reserved fieldName"),
]


@pytest.mark.parametrize("pattern", VALID, ids=lambda p: json.dumps(p)[:60])
def test_a_pattern_eventbridge_compiles_is_accepted(pattern: dict[str, Any]) -> None:
    validate_event_pattern(pattern)


@pytest.mark.parametrize(("pattern", "reason"), INVALID, ids=lambda p: json.dumps(p)[:60])
def test_a_pattern_eventbridge_refuses_is_refused_with_its_reason(
    pattern: Any, reason: str
) -> None:
    with pytest.raises(InvalidEventPattern) as refused:
        validate_event_pattern(pattern)

    assert reason in refused.value.reason
    assert str(refused.value).startswith("Event pattern is not valid. Reason: ")


@pytest.mark.e2e
def test_a_template_with_an_invalid_rule_pattern_fails_to_provision_with_putrules_error(
    tmp_path: Path,
) -> None:
    # Given a template whose rule misspells anything-but
    # When localcloud provisions it
    with (
        pytest.raises(RuntimeError) as failed,
        localcloud_process(tmp_path, template=FIXTURES / "invalid_pattern.yaml"),
    ):
        pass

    # Then it stops at PutRule with EventBridge's error and reason
    log = str(failed.value)
    assert "PutRule" in log
    assert "InvalidEventPatternException" in log
    assert "Unrecognized match type anything_but" in log
