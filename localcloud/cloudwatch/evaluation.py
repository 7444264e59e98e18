"""How CloudWatch decides an alarm's state from its datapoints: pure functions, no I/O.

The rules follow the CloudWatch user guide ("How alarm state is evaluated when data is
missing"): CloudWatch retrieves more periods than EvaluationPeriods (the evaluation range);
when at least EvaluationPeriods of them hold data, the most recent real datapoints decide and
TreatMissingData plays no part; otherwise the real datapoints are evaluated together with as
few filled-in missing ones as needed (notBreaching, breaching), or without them (missing,
ignore). Fewer than DatapointsToAlarm breaching -> OK, else ALARM. Both tables of the guide are
unit tests (tests/localcloud/test_cloudwatch_evaluation.py).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

# How many periods beyond EvaluationPeriods CloudWatch retrieves. The guide does not give the
# formula; its example retrieves 5 periods for an alarm of 3 evaluation periods.
EXTRA_PERIODS_IN_RANGE = 2

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
TREAT_MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")


class UnsupportedAlarm(ValueError):
    """The alarm uses something localcloud does not evaluate (e.g. anomaly detection bands)."""


@dataclass(frozen=True)
class Datapoint:
    """One period's value of the alarm's metric (or expression): `start` is the period's start."""

    start: datetime
    value: float
    sample_count: float = 1.0


@dataclass(frozen=True)
class Rule:
    """What decides the state: the threshold side of an alarm."""

    comparison_operator: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "missing"
    statistic: str = ""  # for the reason data, e.g. "Maximum"
    period: int = 60  # the alarm's configured period, for the reason data

    def __post_init__(self) -> None:
        if self.comparison_operator not in _COMPARISONS:
            raise UnsupportedAlarm(f"ComparisonOperator {self.comparison_operator}")
        if self.treat_missing_data not in TREAT_MISSING_DATA:
            raise UnsupportedAlarm(f"TreatMissingData {self.treat_missing_data}")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise UnsupportedAlarm(
                f"DatapointsToAlarm {self.datapoints_to_alarm} of {self.evaluation_periods}"
            )

    @property
    def range_periods(self) -> int:
        """How many periods one evaluation retrieves (the evaluation range)."""
        return self.evaluation_periods + EXTRA_PERIODS_IN_RANGE

    def breaches(self, value: float) -> bool:
        compare, _ = _COMPARISONS[self.comparison_operator]
        return bool(compare(value, self.threshold))

    @property
    def words(self) -> str:
        return _COMPARISONS[self.comparison_operator][1]


@dataclass(frozen=True)
class Decision:
    state: str
    reason: str
    reason_data: dict[str, Any] = field(default_factory=dict)


def evaluate(
    rule: Rule,
    slots: Sequence[Datapoint | None],
    current_state: str,
    query_date: datetime | None = None,
) -> Decision | None:
    """The alarm's state after this evaluation; None when it keeps its current state.

    `slots` is the evaluation range, oldest first, one entry per period (None: no data).
    """
    if len(slots) < rule.evaluation_periods:
        raise ValueError("the evaluation range is shorter than EvaluationPeriods")
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    real = [point for point in slots if point is not None]
    if len(real) >= n:
        evaluated = real[-n:]
        breaching = [p for p in evaluated if rule.breaches(p.value)]
        state = ALARM if len(breaching) >= m else OK
        reason = _crossed(rule, evaluated, breaching, current_state, state)
        return Decision(state, reason, _reason_data(rule, slots, evaluated, query_date))

    fills = n - len(real)
    breaching = [p for p in real if rule.breaches(p.value)]
    treat = rule.treat_missing_data
    if treat in ("breaching", "notBreaching"):
        filled_breaching = fills if treat == "breaching" else 0
        state = ALARM if len(breaching) + filled_breaching >= m else OK
        reason = _crossed_with_missing(
            rule, real, breaching, fills=fills, treat=treat, current=current_state, new=state
        )
        return Decision(state, reason, _reason_data(rule, slots, real, query_date))

    # missing / ignore: only the real datapoints count.
    if len(breaching) >= m or (treat == "missing" and _oldest_breach_held(rule, slots)):
        reason = _crossed(rule, real, breaching, current_state, ALARM)
        return Decision(ALARM, reason, _reason_data(rule, slots, real, query_date))
    if len(breaching) < len(real):  # a real datapoint within the threshold
        reason = _crossed(rule, real, breaching, current_state, OK)
        return Decision(OK, reason, _reason_data(rule, slots, real, query_date))
    if treat == "ignore":
        return None
    unknown = n if not real else n - len(real)
    reason = f"Insufficient Data: {_count(unknown, 'datapoint')} {_was(unknown)} unknown."
    return Decision(INSUFFICIENT_DATA, reason, _reason_data(rule, slots, real, query_date))


def _oldest_breach_held(rule: Rule, slots: Sequence[Datapoint | None]) -> bool:
    """The guide's rule for sparse data: ALARM when the oldest breaching datapoint is at least
    DatapointsToAlarm periods old and every more recent one is breaching or missing."""
    ages = [age for age, point in enumerate(reversed(slots), start=1) if point is not None]
    real = [point for point in slots if point is not None]
    if not real or not all(rule.breaches(point.value) for point in real):
        return False
    return max(ages) >= rule.datapoints_to_alarm


# ---------------------------------------------------------------- reasons, as CloudWatch words them


def _crossed(
    rule: Rule,
    evaluated: Sequence[Datapoint],
    breaching: Sequence[Datapoint],
    current: str,
    new: str,
) -> str:
    counted = breaching if new == ALARM else [p for p in evaluated if p not in breaching]
    verb = _was(len(counted))
    negation = "" if new == ALARM else "not "
    return (
        f"Threshold Crossed: {len(counted)} out of the last {_count(len(evaluated), 'datapoint')}"
        f" [{_listing(evaluated)}] {verb} {negation}{rule.words} the threshold"
        f" ({_number(rule.threshold)}) (minimum {_count(rule.datapoints_to_alarm, 'datapoint')}"
        f" for {_from(current, new)} -> {new} transition)."
    )


def _crossed_with_missing(
    rule: Rule,
    real: Sequence[Datapoint],
    breaching: Sequence[Datapoint],
    *,
    fills: int,
    treat: str,
    current: str,
    new: str,
) -> str:
    treated = "Breaching" if treat == "breaching" else "NonBreaching"
    missing = f"{_count(fills, 'missing datapoint')} {_was(fills)} treated as [{treated}]"
    tail = (
        f" (minimum {_count(rule.datapoints_to_alarm, 'datapoint')}"
        f" for {_from(current, new)} -> {new} transition)."
    )
    if not real:
        return (
            f"Threshold Crossed: no datapoints were received for {_count(fills, 'period')}"
            f" and {missing}."
        )
    negation = "" if breaching else "not "
    return (
        f"Threshold Crossed: {_count(len(real), 'datapoint')} [{_listing(real)}]"
        f" {_was(len(real))} {negation}{rule.words} the threshold ({_number(rule.threshold)})"
        f" and {missing}{tail}"
    )


def _from(current: str, new: str) -> str:
    return current if current != new else (OK if new == ALARM else ALARM)


def _listing(points: Sequence[Datapoint]) -> str:
    newest_first = sorted(points, key=lambda p: p.start, reverse=True)
    return ", ".join(f"{_number(p.value)} ({p.start:%d/%m/%y %H:%M:%S})" for p in newest_first)


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else str(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _reason_data(
    rule: Rule,
    slots: Sequence[Datapoint | None],
    evaluated: Sequence[Datapoint],
    query_date: datetime | None,
) -> dict[str, Any]:
    """StateReasonData as CloudWatch writes it for a metric alarm."""
    real = [p for p in slots if p is not None]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": iso_millis(query_date or datetime.now(UTC)),
        "statistic": rule.statistic,
        "period": rule.period,
        "recentDatapoints": [p.value for p in real],
        "threshold": rule.threshold,
        "evaluatedDatapoints": [
            {"timestamp": iso_millis(p.start), "sampleCount": p.sample_count, "value": p.value}
            for p in sorted(evaluated, key=lambda p: p.start, reverse=True)
        ],
    }
    if real:
        data["startDate"] = iso_millis(real[0].start)
    return data


def iso_millis(moment: datetime) -> str:
    """CloudWatch's timestamp format: 2026-12-01T14:20:00.000+0000."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"
