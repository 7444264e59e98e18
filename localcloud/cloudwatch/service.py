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


class CloudWatch:
    """Started after provisioning (the alarms are read from moto), closed before moto stops."""

    def __init__(self, clients: AwsClients, *, period_scale: float = 1.0) -> None:
        self.period_scale = period_scale
        self.publisher = MetricsPublisher(clients, flush_seconds=min(1.0, 60 * period_scale))
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
