"""CloudWatch's statistics and metric math, as the alarm evaluator computes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcloud.cloudwatch import expressions
from localcloud.cloudwatch.store import Sample, statistic

AT = datetime(2026, 12, 1, tzinfo=UTC)


def values(*numbers: float) -> list[Sample]:
    return [Sample(AT, 1.0, n, n, n, n) for n in numbers]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SampleCount", 4.0),
        ("Sum", 10.0),
        ("Average", 2.5),
        ("Minimum", 1.0),
        ("Maximum", 4.0),
        ("p50", 2.0),
        ("p99", 4.0),
        ("p100", 4.0),
    ],
)
def test_statistics_of_raw_values(name: str, expected: float) -> None:
    assert statistic(values(3, 1, 4, 2), name) == expected


def test_a_statistic_set_counts_with_its_sample_count() -> None:
    # Given one value of 10 and a statistic set of 3 samples summing to 6 (min 1, max 3)
    samples = [*values(10), Sample(AT, 3.0, 6.0, 1.0, 3.0, None)]
    # Then the statistics combine both; percentiles see only the raw value
    assert statistic(samples, "SampleCount") == 4.0
    assert statistic(samples, "Average") == 4.0
    assert statistic(samples, "Minimum") == 1.0
    assert statistic(samples, "p90") == 10.0


def test_no_samples_no_value() -> None:
    assert statistic([], "Sum") is None


def test_unknown_statistics_are_refused() -> None:
    with pytest.raises(ValueError, match="tm90"):
        statistic(values(1), "tm90")


def test_metric_math_propagates_missing_values_unless_filled() -> None:
    inputs: dict[str, list[float | None]] = {"e": [1.0, None, 2.0], "i": [4.0, 5.0, 0.0]}
    rate = expressions.parse("100 * e / i")
    assert expressions.evaluate(rate, inputs, 3) == [25.0, None, None]  # x / 0: no value
    filled = expressions.parse("100 * FILL(e, 0) / i")
    assert expressions.evaluate(filled, inputs, 3) == [25.0, 0.0, None]
    assert expressions.evaluate(expressions.parse("MAX(e, i)"), inputs, 3) == [4.0, 5.0, 2.0]
    assert expressions.references(rate) == {"e", "i"}


@pytest.mark.parametrize("expression", ["ANOMALY_DETECTION_BAND(m1)", "m1 ** 2", "IF(m1, 1)"])
def test_unsupported_metric_math_is_refused(expression: str) -> None:
    with pytest.raises(expressions.UnsupportedExpression):
        expressions.parse(expression)
