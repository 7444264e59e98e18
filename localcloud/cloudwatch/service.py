"""CloudWatch as localcloud runs it: the metric sources, the publisher, the alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.cloudwatch.alarms import AlarmService, period_length
from localcloud.cloudwatch.metrics import MetricsPublisher
from localcloud.cloudwatch.sources import (
    ApiMetrics,
    ExecutionWatcher,
    LambdaMetrics,
    QueueDepthSampler,
)
from localcloud.cloudwatch.store import MotoMetricStore

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients

SQS_METRIC_PERIOD = 60  # SQS publishes its queue metrics once a minute
EXECUTION_POLL_SECONDS = 1.0
MAX_FLUSH_SECONDS = 5.0


def flush_seconds(period_scale: float) -> float:
    """How often the publisher puts what it holds: a twelfth of the (scaled) minute, between
    every second (or the whole scaled minute, when shorter) and every 5 s. Each flush costs one
    PutMetricData per namespace whatever it holds: at 1 s, during a burst, those calls were
    half of the metrics' CPU. 5 s late is well within CloudWatch's own ingestion delay, and the
    alarms evaluate a minute at a time; scaled tests still see their datapoints within a second.
    """
    minute = 60 * period_scale
    return min(MAX_FLUSH_SECONDS, max(min(1.0, minute), minute / 12))


class CloudWatch:
    """Started after provisioning (the alarms are read from moto), closed before moto stops."""

    def __init__(self, clients: AwsClients, *, period_scale: float = 1.0) -> None:
        self.period_scale = period_scale
        self.publisher = MetricsPublisher(clients, flush_seconds=flush_seconds(period_scale))
        self.lambda_metrics = LambdaMetrics(self.publisher)
        self._queues = QueueDepthSampler(
            clients, self.publisher, interval=period_length(SQS_METRIC_PERIOD, period_scale)
        )
        self._executions = ExecutionWatcher(
            self.publisher, interval=min(EXECUTION_POLL_SECONDS, 60 * period_scale)
        )
        self.alarms = AlarmService(clients, MotoMetricStore(), period_scale=period_scale)

    def api_metrics(self, api_name: str, stage: str) -> ApiMetrics:
        return ApiMetrics(self.publisher, api_name, stage)

    def start(self) -> None:
        self.publisher.start()
        self._queues.start()
        self._executions.start()
        self.alarms.start()

    def close(self) -> None:
        self.alarms.close()
        self._executions.close()
        self._queues.close()
        self.publisher.close()

    def status(self) -> dict[str, Any]:
        return {
            "alarmPeriodScale": self.period_scale,
            "datapointsPut": self.publisher.put_count,
            "alarms": self.alarms.status(),
        }
