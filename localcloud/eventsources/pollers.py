"""Event source mappings as Lambda runs them: SQS queues and DynamoDB streams -> functions.

Each AWS::Lambda::EventSourceMapping of the template (checked as CreateEventSourceMapping
checks it: `mappings`) becomes a poller with Lambda's rules:

- SQS (`sqs`): several batches at once up to ScalingConfig.MaximumConcurrency (Lambda's
  default scaling without it), the queue's visibility timeout ruling retries, partial batch
  responses, filters, and the queue's redrive policy doing the rest.
- DynamoDB streams (`streams`): every shard, parents before children, in order;
  MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, partial batch
  responses; a record given up on goes to DestinationConfig.OnFailure with the invocation
  record AWS writes (`failures`), or is logged at ERROR: never skipped silently.
- A throttled invocation (the function's concurrency is used up) is retried with backoff and
  is not a function error: it uses no retry attempt.

Pollers read and write as the function's execution role, as on AWS: `clients_for(function)`
is the one place their clients come from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.eventsources.base import EventSourceSettings, Poller
from localcloud.eventsources.failures import OnFailureDestination
from localcloud.eventsources.mappings import check_visibility_timeout, mapping_specs
from localcloud.eventsources.sqs import SqsPoller, queue_url
from localcloud.eventsources.streams import StreamPoller

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.cloudformation.template import Template
    from localcloud.eventsources.mappings import MappingSpec
    from localcloud.faults.rules import FaultRegistry
    from localcloud.lambda_.runtime import LambdaRuntime

log = logging.getLogger("localcloud.eventsources.pollers")

__all__ = ["EventSourceSettings", "EventSources"]


class EventSources:
    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        clients: AwsClients,
        *,
        clients_for: Callable[[str], AwsClients] | None = None,
        settings: EventSourceSettings | None = None,
        faults: FaultRegistry | None = None,
    ) -> None:
        """`clients_for(function)`: clients acting as the function's execution role, which
        Lambda's pollers use (localcloud.iam); `clients` (the admin's) when not given.
        Raises InvalidEventSourceMapping for a mapping Lambda would refuse."""
        self.settings = settings or EventSourceSettings()
        self._admin = clients
        self._clients_for = clients_for
        self.pollers: list[Poller] = [
            self._poller(spec, runtime, clients) for spec in mapping_specs(template)
        ]
        for poller in self.pollers:
            poller.faults = faults

    def clients_for(self, spec: MappingSpec) -> AwsClients:
        return self._clients_for(spec.function) if self._clients_for else self._admin

    def _poller(self, spec: MappingSpec, runtime: LambdaRuntime, admin: AwsClients) -> Poller:
        function = runtime.function(spec.function)
        clients = self.clients_for(spec)
        if spec.kind == "sqs":
            # What CreateEventSourceMapping reads about the queue (as the deployer, not the
            # function's role).
            attributes = admin.sqs.get_queue_attributes(
                QueueUrl=queue_url(admin.endpoint_url, spec.source_arn),
                AttributeNames=["VisibilityTimeout"],
            )["Attributes"]
            visibility_timeout = float(attributes.get("VisibilityTimeout", 30))
            check_visibility_timeout(spec, visibility_timeout, function.timeout_seconds)
            return SqsPoller(spec, runtime, clients, self.settings, visibility_timeout)
        destination = OnFailureDestination(spec.logical_id, spec.on_failure_arn, clients)
        return StreamPoller(
            spec,
            runtime,
            clients,
            self.settings,
            destination=destination,
            function_arn=function.arn,
        )

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def close(self) -> None:
        for poller in self.pollers:
            poller.stop()
        deadline = time.monotonic() + 10
        for poller in self.pollers:
            poller.join(timeout=max(0.1, deadline - time.monotonic()))

    def status(self) -> dict[str, dict[str, Any]]:
        return {p.spec.logical_id: p.status() for p in self.pollers}
