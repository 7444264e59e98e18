"""EventBridge schedules: the template's scheduled Lambda targets, fired on time.

Two kinds, as SAM writes them:

- `AWS::Scheduler::Schedule` (EventBridge Scheduler; SAM's `ScheduleV2` event) whose target is
  a function: the function gets the target's `Input`, or `{}`;
- `AWS::Events::Rule` with a `ScheduleExpression` (SAM's `Schedule` event) and function
  targets: each gets the target's `Input`, or EventBridge's "Scheduled Event".

Expressions are AWS's: `rate(<n> minute|minutes|hour|hours|day|days)` (singular for 1, plural
above, as AWS insists) and the six-field `cron(minutes hours day-of-month month day-of-week
year)` in UTC (or the schedule's `ScheduleExpressionTimezone`), with `*`, `?`, lists, ranges,
`/` steps and month and day names; day-of-week 1-7 is SUN-SAT, and one of day-of-month and
day-of-week must be `?`. `L`, `W` and `#` are valid on AWS but not modelled: refused with a
clear error rather than misread. A rate schedule first fires one period after localcloud started; a
disabled schedule (State DISABLED) never fires. A function is invoked as an `Event` (async)
invocation, as both services do; their retry policies are not modelled (a run that fails is
not retried; the next one comes on time).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template

log = logging.getLogger("localcloud.events.scheduler")

Invoke = Callable[[str, bytes], None]
Kind = Literal["scheduler", "events"]

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# field: (lowest, highest, names for lowest.. in order)
_FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, []),
]
_SEARCH_DAYS = 366 * 5


class ScheduleExpressionError(ValueError):
    """A schedule expression AWS would refuse, or one localcloud does not model."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"schedule expression {expression!r}: {reason}")


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?'
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday; None: '?'
    years: frozenset[int]

    def matches_day(self, day: datetime) -> bool:
        weekday = (day.isoweekday() % 7) + 1  # Monday 1 -> 2, Sunday 7 -> 1
        return (
            day.year in self.years
            and day.month in self.months
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )


def _values(expression: str, text: str, field_spec: tuple[str, int, int, list[str]]) -> set[int]:
    name, low, high, names = field_spec

    def number(token: str) -> int:
        if token.upper() in names:
            return low + names.index(token.upper())
        if not token.isdigit():
            raise ScheduleExpressionError(expression, f"{name}: {token!r} is not supported")
        value = int(token)
        if not low <= value <= high:
            raise ScheduleExpressionError(expression, f"{name}: {value} not in {low}-{high}")
        return value

    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ScheduleExpressionError(expression, f"{name}: bad step in {part!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
        else:
            start = number(base)
            end = high if step else start
        values.update(range(start, end + 1, step or 1))
    return values


def _parse_cron(expression: str, body: str) -> _Cron:
    parts = body.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleExpressionError(expression, "cron() takes six fields")
    days_text, weekdays_text = parts[2], parts[4]
    if (days_text == "?") == (weekdays_text == "?"):
        raise ScheduleExpressionError(
            expression, "one of day-of-month and day-of-week must be '?', not both"
        )
    values = {
        spec[0]: None if text == "?" else frozenset(_values(expression, text, spec))
        for text, spec in zip(parts, _FIELDS, strict=True)
    }

    def required(name: str) -> frozenset[int]:
        found = values[name]
        if found is None:
            raise ScheduleExpressionError(expression, f"{name} can't be '?'")
        return found

    return _Cron(
        minutes=required("minutes"),
        hours=required("hours"),
        days=values["day-of-month"],
        months=required("month"),
        weekdays=values["day-of-week"],
        years=required("year"),
    )


def next_fire(expression: str, after: datetime, timezone: str | None = None) -> datetime:
    """The first time strictly after `after` (aware) at which the expression fires."""
    rate = _RATE.match(expression)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count == 0 or (count == 1) != (not unit.endswith("s")):
            raise ScheduleExpressionError(expression, "rate() takes 1 <unit> or <n> <units>")
        return after + timedelta(seconds=count * _UNITS[unit.rstrip("s")])
    cron = _CRON.match(expression)
    if not cron:
        raise ScheduleExpressionError(expression, "expected rate(...) or cron(...)")
    rules = _parse_cron(expression, cron.group(1))
    zone = ZoneInfo(timezone) if timezone else UTC
    local = after.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(_SEARCH_DAYS):
        if rules.matches_day(day):
            for hour in sorted(rules.hours):
                for minute in sorted(rules.minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate > local:
                        return candidate.astimezone(after.tzinfo or UTC)
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # safe across DST changes
    raise ScheduleExpressionError(expression, "never fires within five years")


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    arn: str
    expression: str
    function: str  # the target function's ARN
    kind: Kind
    input: str | None = None
    timezone: str | None = None
    role_arn: str | None = None  # EventBridge Scheduler invokes its target with this role

    def payload(self, at: datetime) -> bytes:
        if self.input is not None:
            return self.input.encode()
        if self.kind == "scheduler":
            return b"{}"
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.arn],
            "detail": {},
        }
        return json.dumps(event).encode()


@dataclass
class _Due:
    spec: ScheduleSpec
    at: datetime
    fired: int = 0


@dataclass
class Scheduler:
    """Fires each schedule's function when it is due (`start` runs the clock in a thread)."""

    schedules: list[ScheduleSpec]
    invoke: Invoke
    # May this role invoke this function? (IAM, when localcloud enforces it; None: yes.)
    allows: Callable[[str, str, str], bool] | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _due: list[_Due] = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _thread: threading.Thread | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._due = [
            _Due(spec, next_fire(spec.expression, self.now, spec.timezone))
            for spec in self.schedules
        ]

    @staticmethod
    def specs(template: Template) -> list[ScheduleSpec]:
        """The template's enabled schedules whose targets are functions."""
        return [*_scheduler_specs(template), *_rule_specs(template)]

    def tick(self, now: datetime) -> list[str]:
        """Fire every schedule due by `now` (once, however late), then plan its next time."""
        fired = []
        with self._lock:
            for due in self._due:
                if due.at > now:
                    continue
                self._fire(due.spec, due.at)
                due.fired += 1
                fired.append(due.spec.name)
                due.at = next_fire(due.spec.expression, max(now, due.at), due.spec.timezone)
        return fired

    def _fire(self, spec: ScheduleSpec, at: datetime) -> None:
        if (
            spec.role_arn is not None
            and self.allows is not None
            and not self.allows(spec.role_arn, "lambda:InvokeFunction", spec.function)
        ):
            log.error("schedule %s: its role may not invoke %s", spec.name, spec.function)
            return
        try:
            self.invoke(spec.function, spec.payload(at))
            log.info("schedule %s fired %s", spec.name, spec.function)
        except Exception:  # a schedule that can't reach its target fails alone, like AWS's
            log.exception("schedule %s could not invoke %s", spec.name, spec.function)

    def start(self) -> Scheduler:
        if self._due and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick(datetime.now(UTC))
            with self._lock:
                next_at = min(due.at for due in self._due)
            wait = (next_at - datetime.now(UTC)).total_seconds()
            self._stop.wait(min(max(wait, 0.05), 60.0))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                due.spec.name: {
                    "expression": due.spec.expression,
                    "target": due.spec.function,
                    "next": due.at.isoformat(),
                    "fired": due.fired,
                }
                for due in self._due
            }


def _is_function(arn: object) -> bool:
    return isinstance(arn, str) and ":lambda:" in arn and ":function:" in arn


def _scheduler_specs(template: Template) -> Iterator[ScheduleSpec]:
    for logical_id, raw in template.of_type("AWS::Scheduler::Schedule"):
        properties = template.resolve(raw)
        target = properties.get("Target", {})
        if properties.get("State", "ENABLED") != "ENABLED" or not _is_function(target.get("Arn")):
            continue
        name = str(properties.get("Name", logical_id))
        group = str(properties.get("GroupName", "default"))
        yield ScheduleSpec(
            name=name,
            arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}",
            expression=str(properties["ScheduleExpression"]),
            function=str(target["Arn"]),
            kind="scheduler",
            input=target.get("Input"),
            timezone=properties.get("ScheduleExpressionTimezone"),
            role_arn=target.get("RoleArn"),
        )


def _rule_specs(template: Template) -> Iterator[ScheduleSpec]:
    for logical_id, raw in template.of_type("AWS::Events::Rule"):
        if "ScheduleExpression" not in raw:
            continue
        properties = template.resolve(raw)
        if properties.get("State", "ENABLED") != "ENABLED":
            continue
        name = str(properties.get("Name", logical_id))
        for target in properties.get("Targets", []):
            if not _is_function(target.get("Arn")):
                continue
            yield ScheduleSpec(
                name=name if len(properties["Targets"]) == 1 else f"{name}/{target['Id']}",
                arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}",
                expression=str(properties["ScheduleExpression"]),
                function=str(target["Arn"]),
                kind="events",
                input=target.get("Input"),
            )
