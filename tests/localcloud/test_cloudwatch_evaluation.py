"""The alarm evaluator against the CloudWatch user guide's tables ("How alarm state is evaluated
when data is missing"): `0` a datapoint within the threshold, `X` a breaching one, `-` missing,
oldest first; five periods retrieved for three evaluation periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.cloudwatch.evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    Datapoint,
    Rule,
    UnsupportedAlarm,
    evaluate,
)

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
RETAIN = "retain"


def slots(pattern: str) -> list[Datapoint | None]:
    values = {"0": 0.0, "X": 5.0}
    return [
        None if mark == "-" else Datapoint(START + timedelta(minutes=i), values[mark])
        for i, mark in enumerate(pattern.split())
    ]


def state_after(pattern: str, treat: str, m: int, n: int = 3, current: str = OK) -> str:
    rule = Rule(
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1.0,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        treat_missing_data=treat,
        statistic="Maximum",
    )
    decision = evaluate(rule, slots(pattern), current)
    return RETAIN if decision is None else decision.state


TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")

# The guide's first table: DatapointsToAlarm 3 of EvaluationPeriods 3.
THREE_OF_THREE = [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("0 - - - -", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
    ("X - - - -", (ALARM, RETAIN, ALARM, OK)),
]
# The second table: 2 of 3 (an M of N alarm).
TWO_OF_THREE = [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - - X", (INSUFFICIENT_DATA, RETAIN, ALARM, OK)),
]


@pytest.mark.parametrize(("pattern", "expected"), THREE_OF_THREE)
def test_three_of_three_follows_the_guide(pattern: str, expected: tuple[str, ...]) -> None:
    # Given an alarm in OK, 3 of 3, and the datapoints of the guide's row
    # When it is evaluated with each TreatMissingData
    states = tuple(state_after(pattern, treat, m=3) for treat in TREATMENTS)
    # Then the states are the guide's
    assert states == expected


@pytest.mark.parametrize(("pattern", "expected"), TWO_OF_THREE)
def test_two_of_three_follows_the_guide(pattern: str, expected: tuple[str, ...]) -> None:
    states = tuple(state_after(pattern, treat, m=2) for treat in TREATMENTS)
    assert states == expected


def test_enough_real_datapoints_ignore_the_missing_data_setting() -> None:
    # Given 1 of 1 with notBreaching, and an older breaching datapoint followed by a gap
    # When evaluated, the most recent real datapoint decides (the gap is not "notBreaching")
    assert state_after("- - X - -", "notBreaching", m=1, n=1) == ALARM
    # and a later datapoint within the threshold clears it
    assert state_after("- - X 0 -", "notBreaching", m=1, n=1, current=ALARM) == OK


def test_ignore_keeps_alarm_while_data_is_missing() -> None:
    assert state_after("- - - - -", "ignore", m=1, n=1, current=ALARM) == RETAIN


def test_the_reason_reads_like_cloudwatchs() -> None:
    # Given 1 of 1, Maximum >= 1, and one datapoint of 5
    rule = Rule("GreaterThanOrEqualToThreshold", 1.0, 1, 1, "notBreaching", "Maximum", 60)
    decision = evaluate(rule, slots("- - X"), INSUFFICIENT_DATA)
    # Then the reason names the datapoint, the comparison and the transition
    assert decision is not None
    assert decision.state == ALARM
    assert decision.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoint [5.0 (01/12/26 14:02:00)] was greater"
        " than or equal to the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA ->"
        " ALARM transition)."
    )
    assert decision.reason_data["evaluatedDatapoints"] == [
        {"timestamp": "2026-12-01T14:02:00.000+0000", "sampleCount": 1.0, "value": 5.0}
    ]
    assert decision.reason_data["statistic"] == "Maximum"
    assert decision.reason_data["period"] == 60


def test_no_data_treated_as_not_breaching_says_so() -> None:
    rule = Rule("GreaterThanOrEqualToThreshold", 1.0, 1, 1, "notBreaching", "Sum", 60)
    decision = evaluate(rule, slots("- - -"), ALARM)
    assert decision is not None
    assert decision.state == OK
    assert decision.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint"
        " was treated as [NonBreaching]."
    )


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        ("GreaterThanThreshold", 1.0, False),
        ("GreaterThanThreshold", 1.5, True),
        ("LessThanThreshold", 0.5, True),
        ("LessThanOrEqualToThreshold", 1.0, True),
        ("GreaterThanOrEqualToThreshold", 1.0, True),
    ],
)
def test_comparison_operators(comparison: str, value: float, breaches: bool) -> None:
    assert Rule(comparison, 1.0, 1, 1).breaches(value) is breaches


def test_anomaly_detection_and_bad_m_of_n_are_refused() -> None:
    with pytest.raises(UnsupportedAlarm):
        Rule("LessThanLowerOrGreaterThanUpperThreshold", 1.0, 1, 1)
    with pytest.raises(UnsupportedAlarm):
        Rule("GreaterThanThreshold", 1.0, 2, 3)
