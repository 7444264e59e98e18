"""Where localcloud's metrics come from, each named and shaped as the AWS service publishes it.

- AWS/Lambda (FunctionName): Invocations, Errors, Duration per invocation and Throttles per
  refused one, from the Lambda runtime's observer hook; the EMF lines of the function's output
  go to their own namespaces.
- AWS/ApiGateway (ApiName and ApiName+Stage): Count, 4XXError, 5XXError, Latency per request.
- AWS/SQS (QueueName): ApproximateNumberOfMessagesVisible / NotVisible / Delayed, sampled from
  moto every (scaled) minute as SQS publishes them.
- AWS/States (StateMachineArn): ExecutionsSucceeded / Failed / TimedOut / Aborted and
  ExecutionTime, once per execution as it finishes, stamped with its stop date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.cloudwatch.api import json_api
from localcloud.cloudwatch.emf import datums_of_line
from localcloud.cloudwatch.metrics import Datum, MetricsPublisher
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.lambda_.runtime import InvokeResult

log = logging.getLogger(__name__)

_EXECUTION_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}
_QUEUE_METRICS = {
    "ApproximateNumberOfMessages": "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}


class LambdaMetrics:
    """A Lambda runtime observer: AWS/Lambda metrics and the functions' EMF metrics."""

    def __init__(self, publisher: MetricsPublisher) -> None:
        self._publisher = publisher

    def invoked(self, function: str, result: InvokeResult) -> None:
        dimensions = {"FunctionName": function}
        self._publisher.put(
            Datum.of("AWS/Lambda", "Invocations", 1, dimensions=dimensions, unit="Count"),
            Datum.of(
                "AWS/Lambda",
                "Errors",
                1 if result.function_error else 0,
                dimensions=dimensions,
                unit="Count",
            ),
            Datum.of(
                "AWS/Lambda",
                "Duration",
                result.duration_ms,
                dimensions=dimensions,
                unit="Milliseconds",
            ),
        )

    def throttled(self, function: str) -> None:
        self._publisher.put(
            Datum.of(
                "AWS/Lambda", "Throttles", 1, dimensions={"FunctionName": function}, unit="Count"
            )
        )

    def output(self, function: str, line: str) -> None:
        datums = datums_of_line(line)
        if datums:
            self._publisher.put(*datums)


class ApiMetrics:
    """One REST API stage's request metrics, as API Gateway publishes them."""

    def __init__(self, publisher: MetricsPublisher, api_name: str, stage: str) -> None:
        self._publisher = publisher
        self._dimension_sets = ({"ApiName": api_name}, {"ApiName": api_name, "Stage": stage})

    def request(self, status: int, latency_ms: float) -> None:
        self._put(
            ("Count", 1, "Count"),
            ("4XXError", int(400 <= status < 500), "Count"),
            ("5XXError", int(status >= 500), "Count"),
            ("Latency", latency_ms, "Milliseconds"),
        )

    def cache_lookup(self, hit: bool) -> None:
        """A request to a caching method: CacheHitCount or CacheMissCount."""
        self._put(("CacheHitCount", int(hit), "Count"), ("CacheMissCount", int(not hit), "Count"))

    def _put(self, *values: tuple[str, float, str]) -> None:
        """(name, value, unit) of each metric, under every dimension set, stamped now."""
        now = datetime.now(UTC)
        self._publisher.put(
            *(
                Datum.of("AWS/ApiGateway", name, value, dimensions=dims, unit=unit, timestamp=now)
                for dims in self._dimension_sets
                for name, value, unit in values
            )
        )


class _Poller:
    """Calls `poll` every `interval` seconds on a daemon thread until closed."""

    def __init__(self, name: str, interval: float, poll: Callable[[], None]) -> None:
        self._interval = interval
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except (BotoCoreError, ClientError):
                log.warning("metric source failed", exc_info=True)
            except Exception:  # a surprise must not end the metrics (and alarms) for the run
                log.exception("metric source failed unexpectedly")
            self._stop.wait(self._interval)


class QueueDepthSampler(_Poller):
    """AWS/SQS queue depth metrics, sampled from moto's queues (ListQueues, then
    GetQueueAttributes of each, without a botocore client: localcloud.cloudwatch.api)."""

    def __init__(self, clients: AwsClients, publisher: MetricsPublisher, interval: float) -> None:
        super().__init__("cloudwatch-sqs", interval, self.sample)
        self._sqs = json_api(clients, "sqs")
        self._publisher = publisher

    def sample(self) -> None:
        now = datetime.now(UTC)
        urls: list[str] = []
        params: dict[str, Any] = {}
        while True:  # every page, as boto3's list_queues paginator reads them
            page = self._sqs.json_call("ListQueues", params)
            urls.extend(page.get("QueueUrls", []))
            if not page.get("NextToken"):
                break
            params = {"NextToken": page["NextToken"]}
        for url in urls:
            try:
                attributes = self._sqs.json_call(
                    "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": list(_QUEUE_METRICS)}
                ).get("Attributes", {})
            except ClientError:
                continue  # deleted meanwhile
            queue_name = url.rsplit("/", 1)[-1]
            self._publisher.put(
                *(
                    Datum.of(
                        "AWS/SQS",
                        metric,
                        float(attributes.get(attribute, 0)),
                        dimensions={"QueueName": queue_name},
                        unit="Count",
                        timestamp=now,
                    )
                    for attribute, metric in _QUEUE_METRICS.items()
                )
            )


class ExecutionWatcher(_Poller):
    """AWS/States execution metrics, once per execution of moto's state machines as it ends.

    Reads moto's Step Functions backend in this process (CloudWatch gets these figures from
    Step Functions itself, not through its public API): each machine's executions are kept in
    order of start, so a scan looks at the ones started since the last scan and at those still
    running, not at every execution of the run. Listing them all through ListExecutions every
    second grew with the run (2,000 executions serialized a second in a 1,000-order soak)."""

    def __init__(self, publisher: MetricsPublisher, interval: float) -> None:
        super().__init__("cloudwatch-states", interval, self.scan)
        self._publisher = publisher
        self._seen: dict[str, int] = {}  # machine ARN -> how many of its executions were seen
        self._running: list[tuple[str, Any]] = []  # (machine ARN, moto's execution)

    def scan(self) -> None:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        for machine in list(backend.state_machines):
            executions = list(machine.executions)
            seen = self._seen.get(machine.arn, 0)
            self._running += [(machine.arn, execution) for execution in executions[seen:]]
            self._seen[machine.arn] = len(executions)
        running = []
        for machine_arn, execution in self._running:
            # moto lists an execution before its interpreter has set a status (None): running
            status = execution.exec_status
            metric = None if status is None else _EXECUTION_METRICS.get(status.value)
            if metric is None:
                running.append((machine_arn, execution))
                continue
            dates = {"startDate": execution.start_date, "stopDate": execution.stop_date}
            self._publish(machine_arn, metric, {key: _aware(d) for key, d in dates.items()})
        self._running = running

    def _publish(self, machine: str, metric: str, execution: dict[str, Any]) -> None:
        stopped: datetime = execution.get("stopDate") or datetime.now(UTC)
        dimensions = {"StateMachineArn": machine}
        datums = [Datum.of("AWS/States", metric, 1, dimensions=dimensions, timestamp=stopped)]
        started: datetime | None = execution.get("startDate")
        if started is not None and metric != "ExecutionsTimedOut":
            milliseconds = max(0.0, (stopped - started).total_seconds() * 1000)
            datums.append(
                Datum.of(
                    "AWS/States",
                    "ExecutionTime",
                    milliseconds,
                    dimensions=dimensions,
                    unit="Milliseconds",
                    timestamp=stopped,
                )
            )
        self._publisher.put(*datums)


def _aware(moment: datetime | None) -> datetime | None:
    """moto keeps UTC times without a zone; CloudWatch's are aware."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
