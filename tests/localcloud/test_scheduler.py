"""localcloud's EventBridge schedules: rate() and cron() expressions, fired on time, to the
template's scheduled Lambda targets (EventBridge Scheduler schedules, SAM ScheduleV2, and
scheduled EventBridge rules, SAM Schedule)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localcloud.cloudformation.template import Template
from localcloud.events.scheduler import (
    ScheduleExpressionError,
    Scheduler,
    ScheduleSpec,
    next_fire,
)

T0 = datetime(2026, 12, 1, 14, 7, 30, tzinfo=UTC)  # a Tuesday
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", T0, T0 + timedelta(minutes=5)),
        ("rate(1 minute)", T0, T0 + timedelta(minutes=1)),
        ("rate(2 hours)", T0, T0 + timedelta(hours=2)),
        ("rate(1 day)", T0, T0 + timedelta(days=1)),
        ("cron(0/15 * * * ? *)", T0, datetime(2026, 12, 1, 14, 15, tzinfo=UTC)),
        ("cron(0 10 * * ? *)", T0, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
        ("cron(30 9 ? * MON-FRI *)", T0, datetime(2026, 12, 2, 9, 30, tzinfo=UTC)),
        ("cron(0 12 ? * 1 *)", T0, datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),  # 1 = Sunday
        ("cron(0 0 1 JAN,JUL ? 2027)", T0, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(5,10 14 1 12 ? *)", T0, datetime(2026, 12, 1, 14, 10, tzinfo=UTC)),
    ],
)
def test_the_next_time_a_schedule_fires(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert next_fire(expression, after) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 minutes)",  # AWS: singular for 1
        "rate(5 minute)",  # AWS: plural above 1
        "rate(5 seconds)",
        "cron(0 10 * * *)",  # five fields
        "cron(0 10 * * MON *)",  # day of month and day of week both given
        "cron(0 25 * * ? *)",
        "cron(0 10 L * ? *)",  # valid on AWS, not modelled here: refused, not misread
        "every 5 minutes",
    ],
)
def test_an_expression_aws_refuses_or_localcloud_cannot_model_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError, match="schedule expression"):
        next_fire(expression, T0)


def test_a_schedule_fires_its_function_when_due_once_per_period() -> None:
    # Given a schedule every 5 minutes, created at T0
    fired: list[tuple[str, bytes]] = []
    spec = ScheduleSpec(
        name="Sweep",
        arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/Sweep",
        expression="rate(5 minutes)",
        function="arn:aws:lambda:us-east-1:123456789012:function:SweepFunction",
        kind="scheduler",
        input=None,
    )
    scheduler = Scheduler([spec], invoke=lambda f, p: fired.append((f, p)), now=T0)

    # When the clock passes 4 minutes, then 5, then 5 again, then 10
    for minutes in (4, 5, 5, 10):
        scheduler.tick(T0 + timedelta(minutes=minutes))

    # Then it fired at 5 and at 10: once per period, never twice for one
    assert [f for f, _ in fired] == [spec.function, spec.function]
    assert json.loads(fired[0][1]) == {}  # EventBridge Scheduler: the target's Input, or {}
    status = scheduler.status()["Sweep"]
    assert (status["fired"], status["next"]) == (2, (T0 + timedelta(minutes=15)).isoformat())


def test_a_schedule_whose_role_may_not_invoke_its_target_invokes_nothing() -> None:
    # Given a schedule whose role IAM does not let invoke the function
    fired: list[str] = []
    asked: list[tuple[str, str, str]] = []
    spec = ScheduleSpec(
        name="Sweep",
        arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/Sweep",
        expression="rate(5 minutes)",
        function="arn:aws:lambda:us-east-1:123456789012:function:SweepFunction",
        kind="scheduler",
        role_arn="arn:aws:iam::123456789012:role/SweepScheduleRole",
    )

    def allows(role: str, action: str, resource: str) -> bool:
        asked.append((role, action, resource))
        return False

    scheduler = Scheduler([spec], invoke=lambda f, _p: fired.append(f), now=T0, allows=allows)

    # When it is due
    scheduler.tick(T0 + timedelta(minutes=5))

    # Then IAM was asked for the schedule's role, and nothing was invoked
    assert asked == [(spec.role_arn, "lambda:InvokeFunction", spec.function)]
    assert fired == []


def test_a_scheduled_rule_sends_the_scheduled_event() -> None:
    fired: list[bytes] = []
    spec = ScheduleSpec(
        name="Nightly",
        arn="arn:aws:events:us-east-1:123456789012:rule/Nightly",
        expression="cron(0 10 * * ? *)",
        function="arn:aws:lambda:us-east-1:123456789012:function:NightlyFunction",
        kind="events",
        input=None,
    )
    scheduler = Scheduler([spec], invoke=lambda f, p: fired.append(p), now=T0)

    scheduler.tick(datetime(2026, 12, 2, 10, 0, 1, tzinfo=UTC))

    (payload,) = fired
    event = json.loads(payload)
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "aws.events",
        "Scheduled Event",
        {},
    )
    assert event["resources"] == [spec.arn]
    assert event["time"] == "2026-12-02T10:00:00Z"


def test_the_templates_sweeper_schedule_is_found_with_its_function() -> None:
    # Given the project's template, its sweeper every minute
    template = Template.load(
        ROOT / "template.yaml", {"PendingOrderSweepSchedule": "rate(1 minute)"}
    )
    template.register_function_identities()

    # When the schedules are read from it
    (spec,) = Scheduler.specs(template)

    # Then the sweeper's schedule targets its function
    assert spec.name == "SweepPendingOrdersFunctionSweep"
    assert spec.expression == "rate(1 minute)"
    assert spec.function.endswith(":function:SweepPendingOrdersFunction")
    assert spec.kind == "scheduler"
