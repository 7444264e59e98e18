"""The template's alarms, evaluated periodically the way CloudWatch does, with their actions.

Alarms are read from moto (describe_alarms, after provisioning), so an alarm put later with the
aws CLI is evaluated too. Every tick each alarm's evaluation range is read from the metric store
(evaluation.py decides), a change of state is written back with set_alarm_state (reason and
reason data as CloudWatch words them), logged on one line, and the alarm's actions for the new
state run: an SNS topic gets CloudWatch's notification, unless the topic's KMS key does not
let CloudWatch use it (then the action fails and the failure is logged, as it is in the alarm's
history on AWS). DescribeAlarms and SetAlarmState go through localcloud.cloudwatch.api (no
botocore client; the endpoint answers them as before).

Periods are scaled by `period_scale` (1.0 in `make run`): with 0.05 a 60 s period lasts 3 s, so
a test sees an alarm fire in seconds. Metric timestamps stay real; periods are aligned to
multiples of their scaled length, as CloudWatch aligns them to the minute.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.cloudwatch import expressions
from localcloud.cloudwatch.api import CloudWatchApi
from localcloud.cloudwatch.evaluation import (
    INSUFFICIENT_DATA,
    Datapoint,
    Decision,
    Rule,
    UnsupportedAlarm,
    evaluate,
)
from localcloud.cloudwatch.notification import publish_arguments
from localcloud.cloudwatch.store import (
    MetricId,
    MetricWindow,
    MotoMetricStore,
    is_supported_statistic,
    statistic,
)
from localcloud.sns.encryption import TopicKeyDenied, check_service_may_publish

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients

log = logging.getLogger("localcloud.cloudwatch.alarms")

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
INITIAL_REASON = "Unchecked: Initial alarm creation"
KEY_DENIED_MESSAGE = (
    "CloudWatch Alarms does not have authorization to access the SNS topic encryption key."
)


@dataclass(frozen=True)
class _Query:
    """One input of the alarm: a metric and its statistic (or an expression of inputs)."""

    id: str
    metric: MetricId | None
    stat: str | None
    expression: Any = None  # a parsed expressions tree
    returns: bool = True


@dataclass(frozen=True)
class MetricAlarm:
    name: str
    arn: str
    description: str | None
    rule: Rule
    queries: tuple[_Query, ...]
    statistic: str
    period: int
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    configuration_updated: datetime
    described: dict[str, Any]

    @classmethod
    def from_described(cls, described: dict[str, Any]) -> MetricAlarm:
        """From describe_alarms' MetricAlarms entry; UnsupportedAlarm for what is not modelled."""
        if described.get("ThresholdMetricId"):
            raise UnsupportedAlarm("anomaly detection bands (ThresholdMetricId)")
        queries, period, label = _queries(described)
        evaluation_periods = int(described["EvaluationPeriods"])
        rule = Rule(
            comparison_operator=described["ComparisonOperator"],
            threshold=float(described["Threshold"]),
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(described.get("DatapointsToAlarm") or evaluation_periods),
            treat_missing_data=described.get("TreatMissingData") or "missing",
            statistic=label,
            period=period,
        )
        return cls(
            name=described["AlarmName"],
            arn=described["AlarmArn"],
            description=described.get("AlarmDescription"),
            rule=rule,
            queries=queries,
            statistic=label,
            period=period,
            actions_enabled=bool(described.get("ActionsEnabled", True)),
            alarm_actions=tuple(described.get("AlarmActions", [])),
            ok_actions=tuple(described.get("OKActions", [])),
            insufficient_data_actions=tuple(described.get("InsufficientDataActions", [])),
            configuration_updated=_aware(
                described.get("AlarmConfigurationUpdatedTimestamp") or datetime.now(UTC)
            ),
            described=described,
        )

    def actions_for(self, state: str) -> tuple[str, ...]:
        if not self.actions_enabled:
            return ()
        return {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            INSUFFICIENT_DATA: self.insufficient_data_actions,
        }[state]


def _queries(described: dict[str, Any]) -> tuple[tuple[_Query, ...], int, str]:
    """(inputs, period, statistic label) of a single-metric or metric-math alarm."""
    if not described.get("Metrics"):
        stat = described.get("ExtendedStatistic") or described.get("Statistic")
        if not stat or not is_supported_statistic(stat):
            raise UnsupportedAlarm(f"statistic {stat}")
        metric = MetricId(
            described["Namespace"],
            described["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in described.get("Dimensions", [])),
            described.get("Unit"),
        )
        return (_Query("m1", metric, stat),), int(described["Period"]), stat
    queries = []
    periods = set()
    for query in described["Metrics"]:
        returns = bool(query.get("ReturnData", True))
        if "MetricStat" in query:
            stat_spec = query["MetricStat"]
            if not is_supported_statistic(stat_spec["Stat"]):
                raise UnsupportedAlarm(f"statistic {stat_spec['Stat']}")
            metric_spec = stat_spec["Metric"]
            metric = MetricId(
                metric_spec["Namespace"],
                metric_spec["MetricName"],
                frozenset((d["Name"], d["Value"]) for d in metric_spec.get("Dimensions", [])),
                stat_spec.get("Unit"),
            )
            periods.add(int(stat_spec["Period"]))
            queries.append(_Query(query["Id"], metric, stat_spec["Stat"], returns=returns))
        else:
            try:
                tree = expressions.parse(query["Expression"])
            except expressions.UnsupportedExpression as error:
                raise UnsupportedAlarm(str(error)) from error
            if "Period" in query:
                periods.add(int(query["Period"]))
            queries.append(_Query(query["Id"], None, None, tree, returns))
    returned = [q for q in queries if q.returns]
    if len(returned) != 1 or len(periods) != 1:
        raise UnsupportedAlarm("metric math needs one ReturnData query and one period")
    label = returned[0].stat or "Expression"
    return tuple(queries), periods.pop(), label


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------- datapoints per period


def period_length(period: int, scale: float) -> int:
    """The period as localcloud runs it: scaled, whole seconds, at least one."""
    return max(1, round(period * scale))


def evaluation_range(
    alarm: MetricAlarm, store: MotoMetricStore | MetricWindow, now: datetime, scale: float
) -> list[Datapoint | None]:
    """The alarm's value in each period of its evaluation range, oldest first."""
    length = period_length(alarm.period, scale)
    count = alarm.rule.range_periods
    newest_start = math.floor(now.timestamp() / length) * length
    starts = [
        datetime.fromtimestamp(newest_start - (count - 1 - i) * length, UTC) for i in range(count)
    ]
    end = starts[-1] + timedelta(seconds=length)
    series: dict[str, list[float | None]] = {}
    counts: dict[str, list[float]] = {}
    for query in alarm.queries:
        if query.metric is None or query.stat is None:
            continue
        buckets: list[list[Any]] = [[] for _ in starts]
        for sample in store.samples(query.metric, starts[0], end):
            index = int((sample.timestamp - starts[0]).total_seconds() // length)
            if 0 <= index < count:
                buckets[index].append(sample)
        series[query.id] = [statistic(bucket, query.stat) for bucket in buckets]
        counts[query.id] = [sum(s.count for s in bucket) for bucket in buckets]
    for query in alarm.queries:
        if query.expression is not None:
            series[query.id] = expressions.evaluate(query.expression, series, count)
    (returned,) = [q for q in alarm.queries if q.returns]
    sample_counts = counts.get(returned.id, [1.0] * count)
    return [
        None if value is None else Datapoint(start, value, sample_counts[i] or 1.0)
        for i, (start, value) in enumerate(zip(starts, series[returned.id], strict=True))
    ]


# ---------------------------------------------------------------- the service


@dataclass(frozen=True)
class Transition:
    alarm: str
    old_state: str
    new_state: str
    reason: str
    at: datetime


class AlarmService:
    """Evaluates the alarms held in moto every tick, on a background thread."""

    def __init__(
        self,
        clients: AwsClients,
        store: MotoMetricStore,
        *,
        period_scale: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if period_scale <= 0:
            raise ValueError("the alarm period scale must be positive")
        self._clients = clients
        self._cloudwatch = CloudWatchApi(clients)
        self._sns = clients.client("sns")
        self._store = store
        self.period_scale = period_scale
        self._clock = clock
        self._unsupported: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick = 60 * period_scale
        self._lock = threading.Lock()
        self.transitions: list[Transition] = []
        self.action_failures: list[dict[str, str]] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._initialise()
        self._tick = self.tick_seconds
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def tick_seconds(self) -> float:
        """CloudWatch evaluates each minute (each period, for shorter ones), here scaled."""
        periods = [min(a.period, 60) for a in self._alarms()] or [60]
        return max(0.5, min(periods) * self.period_scale)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.evaluate_all()
            except (BotoCoreError, ClientError):
                log.warning("alarm evaluation failed", exc_info=True)

    def _initialise(self) -> None:
        """Alarms start in INSUFFICIENT_DATA on AWS (moto creates them in OK)."""
        for described in self._described():
            if described["StateReason"] == INITIAL_REASON and described["StateValue"] != (
                INSUFFICIENT_DATA
            ):
                self._cloudwatch.set_alarm_state(
                    AlarmName=described["AlarmName"],
                    StateValue=INSUFFICIENT_DATA,
                    StateReason=INITIAL_REASON,
                )

    # ------------------------------------------------------------ evaluation
    def evaluate_all(self) -> list[Transition]:
        now = self._clock()
        described_alarms = [(d, self._alarm(d)) for d in self._described()]
        alarms = [(d, a) for d, a in described_alarms if a is not None]
        if not alarms:
            return []
        widest = max(
            (a.rule.range_periods + 1) * period_length(a.period, self.period_scale)
            for _, a in alarms
        )
        watched = {
            (query.metric.namespace, query.metric.name)
            for _, alarm in alarms
            for query in alarm.queries
            if query.metric is not None
        }
        window = self._store.window(
            now - timedelta(seconds=widest), now + timedelta(seconds=1), watched
        )
        changed = []
        for described, alarm in alarms:
            current = described["StateValue"]
            if described["StateReason"] == INITIAL_REASON:
                current = INSUFFICIENT_DATA  # put after start-up (moto creates alarms in OK)
            slots = evaluation_range(alarm, window, now, self.period_scale)
            decision = evaluate(alarm.rule, slots, current, now)
            if decision is None or (decision.state == current == described["StateValue"]):
                continue
            changed.append(self._change(alarm, current, decision, now))
        return changed

    def _change(
        self, alarm: MetricAlarm, old_state: str, decision: Decision, now: datetime
    ) -> Transition:
        self._cloudwatch.set_alarm_state(
            AlarmName=alarm.name,
            StateValue=decision.state,
            StateReason=decision.reason,
            StateReasonData=json.dumps(decision.reason_data),
        )
        transition = Transition(alarm.name, old_state, decision.state, decision.reason, now)
        with self._lock:
            self.transitions.append(transition)
        # ALARM is news; so is recovering from it. Settling from INSUFFICIENT_DATA into OK
        # (every alarm does once after start-up) is not.
        level = {"ALARM": logging.WARNING, "OK": logging.INFO}.get(decision.state, logging.INFO)
        if (old_state, decision.state) == (INSUFFICIENT_DATA, "OK"):
            level = logging.DEBUG
        log.log(
            level, "alarm %s %s -> %s: %s", alarm.name, old_state, decision.state, decision.reason
        )
        for action in alarm.actions_for(decision.state):
            self._run_action(alarm, action, old_state, decision, now)
        return transition

    def _run_action(
        self, alarm: MetricAlarm, action: str, old_state: str, decision: Decision, now: datetime
    ) -> None:
        if ":sns:" not in action:
            self._action_failed(alarm, action, "only SNS actions are modelled by localcloud")
            return
        try:
            check_service_may_publish(self._clients, action, CLOUDWATCH_PRINCIPAL)
            self._sns.publish(TopicArn=action, **publish_arguments(alarm, old_state, decision, now))
        except TopicKeyDenied as denied:
            self._action_failed(alarm, action, f'Received error: "{KEY_DENIED_MESSAGE}" ({denied})')
            return
        except ClientError as error:
            self._action_failed(alarm, action, f"Received error: {error}")
            return
        log.info("alarm %s notified %s", alarm.name, action)

    def _action_failed(self, alarm: MetricAlarm, action: str, why: str) -> None:
        summary = f"Failed to execute action {action}. {why}"
        with self._lock:
            self.action_failures.append({"alarm": alarm.name, "action": action, "error": summary})
        log.error("alarm %s: %s", alarm.name, summary)

    def _alarm(self, described: dict[str, Any]) -> MetricAlarm | None:
        try:
            return MetricAlarm.from_described(described)
        except (UnsupportedAlarm, KeyError, ValueError) as error:
            if described["AlarmName"] not in self._unsupported:
                self._unsupported.add(described["AlarmName"])
                log.warning("alarm %s is not evaluated: %s", described["AlarmName"], error)
            return None

    def _alarms(self) -> Sequence[MetricAlarm]:
        return [a for d in self._described() if (a := self._alarm(d)) is not None]

    def _described(self) -> list[dict[str, Any]]:
        return self._cloudwatch.describe_metric_alarms()

    def status(self) -> list[dict[str, Any]]:
        """Each alarm's state and reason, and the actions that failed."""
        failures: dict[str, list[str]] = {}
        with self._lock:
            for failure in self.action_failures:
                failures.setdefault(failure["alarm"], []).append(failure["error"])
        return [
            {
                "name": d["AlarmName"],
                "state": d["StateValue"],
                "reason": d["StateReason"],
                "failedActions": failures.get(d["AlarmName"], []),
            }
            for d in self._described()
        ]
