"""Where a running shop is: its resources (logical id -> physical id) and clients to reach them.

On AWS the stack tells it (CloudFormation ListStackResources, plus Lambda's event source
mappings for their on-failure queues); on localcloud its `/_localcloud/status` tells the same
(`resources`), with localcloud's admin credentials. Either way the tools name resources by their
logical id in template.yaml, never by a physical name written down a second time.

The endpoint: `--aws-url`, else `AWS_ENDPOINT_URL` from the environment, else AWS itself. An
endpoint that answers `/_localcloud/status` is a localcloud.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.spec import REGION as LOCALCLOUD_REGION

# The logical ids the tools read (template.yaml).
ORDERS_TABLE = "OrdersTable"
ORDER_SUMMARIES_TABLE = "OrderSummariesTable"
INVENTORY_TABLE = "InventoryTable"
NOTIFICATIONS_TABLE = "NotificationsTable"
SAGA_STATE_MACHINE = "OrderSagaStateMachine"
CANCELLATION_STATE_MACHINE = "OrderCancellationStateMachine"
OPERATOR_QUEUE = "OperatorQueue"
PROVIDER_KEY_SECRET = "PaymentProviderApiKeySecret"
PROVIDER_URL_PARAMETER = "PaymentProviderBaseUrl"

QUEUE_TYPE = "AWS::SQS::Queue"
EVENT_SOURCE_MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
STATUS_TIMEOUT_SECONDS = 5.0


class DeploymentNotFound(LookupError):
    """The tools can't tell where the shop is, or it lacks a resource they need."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str
    on_failure_arn: str | None = None  # an event source mapping's on-failure destination


@dataclass
class Deployment:
    """The resources of one running shop and a boto3 session that reaches them."""

    resources: dict[str, StackResource]
    session: boto3.session.Session
    endpoint_url: str | None = None
    provider_url: str | None = None
    localcloud: bool = False
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ clients
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        return self._clients[service]

    @cached_property
    def dynamodb(self) -> Any:
        """The DynamoDB resource API (what the services' repositories take)."""
        return self.session.resource("dynamodb", endpoint_url=self.endpoint_url)

    def table(self, logical_id: str) -> Any:
        return self.dynamodb.Table(self.physical(logical_id))

    # ------------------------------------------------------------ resources
    def physical(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise DeploymentNotFound(
                f"the stack has no resource {logical_id} (pass --resource {logical_id}=<name>)"
            )
        return resource.physical_id

    def has(self, logical_id: str) -> bool:
        return logical_id in self.resources

    def queues(self) -> dict[str, str]:
        """Every queue of the stack: logical id -> queue URL."""
        return {
            logical_id: resource.physical_id
            for logical_id, resource in self.resources.items()
            if resource.type == QUEUE_TYPE
        }

    def failure_queues(self) -> dict[str, str]:
        """The stack's dead-letter and on-failure queues (logical id -> URL): every queue another
        queue's RedrivePolicy names as its deadLetterTargetArn (asked of SQS), and every event
        source mapping's OnFailure destination."""
        queues = self.queues()
        sqs = self.client("sqs")
        by_arn: dict[str, str] = {}
        targets: set[str] = set()
        for logical_id, url in queues.items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
            )["Attributes"]
            by_arn[attributes["QueueArn"]] = logical_id
            policy = attributes.get("RedrivePolicy")
            if policy:
                targets.add(json.loads(policy)["deadLetterTargetArn"])
        targets.update(r.on_failure_arn for r in self.resources.values() if r.on_failure_arn)
        return {by_arn[arn]: queues[by_arn[arn]] for arn in sorted(targets) if arn in by_arn}

    def source_queues(self, dead_letter_url: str) -> list[str]:
        """The queues whose RedrivePolicy sends their dead letters to this queue (SQS's
        ListDeadLetterSourceQueues), as URLs."""
        pages = self.client("sqs").get_paginator("list_dead_letter_source_queues")
        return [
            url for page in pages.paginate(QueueUrl=dead_letter_url) for url in page["queueUrls"]
        ]

    def provider_api_key(self) -> str:
        """The payment provider's API key, from its secret (as the payments functions read it)."""
        secret = self.client("secretsmanager").get_secret_value(
            SecretId=self.physical(PROVIDER_KEY_SECRET)
        )
        return str(secret["SecretString"])

    def logical_id_of_queue(self, name_or_url: str) -> str:
        """A queue's logical id from its logical id, URL or name."""
        for logical_id, url in self.queues().items():
            if name_or_url in (logical_id, url, url.rsplit("/", 1)[-1]):
                return logical_id
        raise DeploymentNotFound(f"the stack has no queue {name_or_url}")


# ---------------------------------------------------------------- discovery


def discover(
    aws_url: str | None = None,
    *,
    stack_name: str = "shop",
    overrides: Mapping[str, str] | None = None,
    provider_url: str | None = None,
) -> Deployment:
    """The shop at `aws_url` (else AWS_ENDPOINT_URL, else AWS): localcloud when the endpoint
    answers /_localcloud/status, else the CloudFormation stack `stack_name`."""
    endpoint = aws_url or os.environ.get("AWS_ENDPOINT_URL") or None
    status = _localcloud_status(endpoint) if endpoint else None
    if status is not None:
        deployment = _from_localcloud(endpoint or "", status)
    else:
        deployment = _from_stack(endpoint, stack_name)
    for logical_id, physical_id in (overrides or {}).items():
        known = deployment.resources.get(logical_id)
        deployment.resources[logical_id] = StackResource(
            logical_id, known.type if known else "", physical_id
        )
    if provider_url:
        deployment.provider_url = provider_url
    return deployment


def _localcloud_status(endpoint: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(
            f"{endpoint.rstrip('/')}/_localcloud/status", timeout=STATUS_TIMEOUT_SECONDS
        ) as response:
            status: Any = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return status if isinstance(status, dict) and status.get("ready") else None


def _from_localcloud(endpoint: str, status: Mapping[str, Any]) -> Deployment:
    if "resources" not in status:
        raise DeploymentNotFound(
            f"localcloud at {endpoint} does not list its resources (an older localcloud?)"
        )
    resources = {
        logical_id: StackResource(
            logical_id,
            entry["type"],
            entry["physicalId"],
            _on_failure(entry.get("destinationConfig")),
        )
        for logical_id, entry in status["resources"].items()
        if "physicalId" in entry
    }
    for logical_id, entry in status["resources"].items():  # mappings have no physical id here
        on_failure = _on_failure(entry.get("destinationConfig"))
        if logical_id not in resources and on_failure:
            resources[logical_id] = StackResource(logical_id, entry["type"], "", on_failure)
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        region_name=LOCALCLOUD_REGION,
    )
    return Deployment(
        resources=resources,
        session=session,
        endpoint_url=endpoint.rstrip("/"),
        provider_url=status.get("paymentProviderUrl"),
        localcloud=True,
    )


def _from_stack(endpoint: str | None, stack_name: str) -> Deployment:
    session = boto3.session.Session()
    deployment = Deployment(resources={}, session=session, endpoint_url=endpoint)
    cloudformation = deployment.client("cloudformation")
    for summary in _stack_resources(cloudformation, stack_name):
        logical_id, resource_type = summary["LogicalResourceId"], summary["ResourceType"]
        physical_id = summary.get("PhysicalResourceId", "")
        on_failure = None
        if resource_type == EVENT_SOURCE_MAPPING_TYPE and physical_id:
            mapping = deployment.client("lambda").get_event_source_mapping(UUID=physical_id)
            on_failure = _on_failure(mapping.get("DestinationConfig"))
        deployment.resources[logical_id] = StackResource(
            logical_id, resource_type, physical_id, on_failure
        )
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    deployment.provider_url = parameters.get(PROVIDER_URL_PARAMETER)
    return deployment


def _stack_resources(cloudformation: Any, stack_name: str) -> Iterator[dict[str, Any]]:
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        yield from page["StackResourceSummaries"]


def _on_failure(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    destination = (config.get("OnFailure") or {}).get("Destination")
    return str(destination) if destination else None
