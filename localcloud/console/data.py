"""What the console shows, read from the emulated services themselves, as AWS's consoles read
them: DynamoDB (the orders' event store), Step Functions (executions, their histories and the
definitions they ran), SQS (queue attributes; a redrive moves messages), CloudWatch (alarms),
SES (sent messages) and the payment provider simulator's ledger.

Every AWS read goes through boto3 against localcloud's endpoint with localcloud's admin
identity, exactly as `aws --endpoint-url` would.

A queue's redrive receives, sends and deletes, as `ops.operator redrive-queue --method copy`
does: moto has no StartMessageMoveTask (SQS's own redrive). localcloud can't import ops (ops
stands above localcloud and imports the orders service's domain), so the loop is written here
too, in its plain form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from localcloud.console.graph import layout, state_runs, status_with_history, taken_edges
from localcloud.logs.feed import ORDER_STATUS_AFTER

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeFilterType

    from localcloud.awsclients import AwsClients

ORDERS_TABLE = "OrdersTable"  # the logical id of the orders' event store (template.yaml)
ORDER_KEY_PREFIX = "ORDER#"
# The order's workflows: the saga is started with the order id as its name, the cancellation
# with `cancel-<orderId>` (functions/orders/orders/models.py).
EXECUTION_NAMES = ("{}", "cancel-{}")
REDRIVE_VISIBILITY_SECONDS = 60
REDRIVE_MAX_MESSAGES = 1000  # per click; the button can be pressed again
QUEUE_ATTRIBUTES: list[QueueAttributeFilterType] = [
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "RedrivePolicy",
]

_deserialize = TypeDeserializer().deserialize
SentEmails = Callable[[], list[dict[str, Any]]]
Resources = Callable[[], Mapping[str, Mapping[str, Any]]]


class Ledger(Protocol):
    """The payment provider simulator's books (localcloud.payment_provider.simulator)."""

    def charges(self) -> list[dict[str, Any]]: ...

    def refunds(self) -> list[dict[str, Any]]: ...


class ConsoleError(Exception):
    """A request the console refuses: an HTTP status, a code and a message for the page."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ConsoleData:
    def __init__(
        self,
        clients: AwsClients,
        *,
        resources: Resources,
        sent_emails: SentEmails,
        ledger: Ledger | None = None,
    ) -> None:
        self._clients = clients
        self._resources = resources
        self._sent_emails = sent_emails
        self._ledger = ledger

    # ------------------------------------------------------------------ orders

    def orders(self, search: str = "", limit: int = 100) -> dict[str, Any]:
        """Orders, newest first, folded from the event store; `search` is part of an id."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in self._scan_events():
            order_id = item["pk"][len(ORDER_KEY_PREFIX) :]
            if search and search.lower() not in order_id.lower():
                continue
            grouped.setdefault(order_id, []).append(item)
        orders = [_summary(order_id, items) for order_id, items in grouped.items()]
        orders.sort(key=lambda o: o["createdAt"] or "", reverse=True)
        return {"orders": orders[:limit], "total": len(orders)}

    def order(self, order_id: str) -> dict[str, Any]:
        items = self._query_events(order_id)
        executions = self._executions(order_id)
        if not items and not executions:
            raise ConsoleError(404, "NOT_FOUND", f"No order {order_id} in {ORDERS_TABLE}")
        return {
            **_summary(order_id, items),
            "events": [_event(item) for item in items],
            "executions": executions,
            "emails": [
                email
                for email in self._sent_emails()
                if order_id in f"{email.get('subject') or ''} {email.get('body') or ''}"
            ],
            "payments": self._payments(order_id),
        }

    def _orders_table(self) -> str:
        resource = self._resources().get(ORDERS_TABLE)
        if not resource or "physicalId" not in resource:
            raise ConsoleError(404, "NOT_FOUND", f"The template has no {ORDERS_TABLE}")
        return str(resource["physicalId"])

    def _scan_events(self) -> Iterator[dict[str, Any]]:
        paginator = self._clients.dynamodb.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._orders_table(),
            FilterExpression="begins_with(pk, :order)",
            ProjectionExpression="pk, sk, detailType, detail",
            ExpressionAttributeValues={":order": {"S": ORDER_KEY_PREFIX}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield {key: _deserialize(value) for key, value in item.items()}

    def _query_events(self, order_id: str) -> list[dict[str, Any]]:
        paginator = self._clients.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._orders_table(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{ORDER_KEY_PREFIX}{order_id}"}},
            ConsistentRead=True,
        )
        return [
            {key: _deserialize(value) for key, value in item.items()}
            for page in pages
            for item in page.get("Items", [])
        ]

    # ------------------------------------------------------------------ executions

    def _executions(self, order_id: str) -> list[dict[str, Any]]:
        """The order's executions of every state machine. A STANDARD one is described by its
        name; an EXPRESS one (whose ARN carries an id of its own, and which Step Functions
        neither describes nor keeps a history of) is found in ListExecutions."""
        sfn = self._clients.stepfunctions
        names = [pattern.format(order_id) for pattern in EXECUTION_NAMES]
        executions = []
        for listed in _all(sfn, "list_state_machines", "stateMachines"):
            machine = sfn.describe_state_machine(stateMachineArn=listed["stateMachineArn"])
            if machine.get("type") == "EXPRESS":
                executions += [
                    self._express_execution(machine, execution)
                    for execution in _all(
                        sfn,
                        "list_executions",
                        "executions",
                        stateMachineArn=machine["stateMachineArn"],
                    )
                    if execution.get("name") in names
                ]
                continue
            prefix = machine["stateMachineArn"].replace(":stateMachine:", ":execution:", 1)
            for name in names:
                try:
                    executions.append(self._execution(f"{prefix}:{name}"))
                except ClientError as error:
                    if _code(error) not in {"ExecutionDoesNotExist", "InvalidArn"}:
                        raise
        return executions

    def _execution(self, arn: str) -> dict[str, Any]:
        sfn = self._clients.stepfunctions
        described = sfn.describe_execution(executionArn=arn)
        machine = sfn.describe_state_machine_for_execution(executionArn=arn)
        definition = json.loads(machine["definition"])
        history = list(_all(sfn, "get_execution_history", "events", executionArn=arn))
        status = status_with_history(described["status"], history)
        return {
            "arn": arn,
            "name": described.get("name"),
            "stateMachine": machine.get("name"),
            "stateMachineArn": described.get("stateMachineArn"),
            "type": "STANDARD",
            "status": status,
            "startDate": _iso(described.get("startDate")),
            "stopDate": _iso(described.get("stopDate")),
            "error": described.get("error"),
            "cause": described.get("cause"),
            "graph": layout(definition),
            "states": state_runs(definition, history, status),
            "path": taken_edges(history),
            "note": None,
        }

    def _express_execution(
        self, machine: Mapping[str, Any], listed: Mapping[str, Any]
    ) -> dict[str, Any]:
        definition = json.loads(machine["definition"])
        status = str(listed.get("status"))
        return {
            "arn": listed["executionArn"],
            "name": listed.get("name"),
            "stateMachine": machine.get("name"),
            "stateMachineArn": machine.get("stateMachineArn"),
            "type": "EXPRESS",
            "status": status,
            "startDate": _iso(listed.get("startDate")),
            "stopDate": _iso(listed.get("stopDate")),
            "error": None,
            "cause": None,
            "graph": layout(definition),
            "states": state_runs(definition, [], status),
            "path": [],
            "note": "An EXPRESS workflow keeps no execution history, so its steps are not "
            "drawn; on AWS they are in the state machine's log group (Logging level ALL).",
        }

    # ------------------------------------------------------------------ payments

    def ledger(self) -> dict[str, Any]:
        if self._ledger is None:
            return {"provider": False, "charges": [], "refunds": []}
        return {
            "provider": True,
            "charges": self._ledger.charges(),
            "refunds": self._ledger.refunds(),
        }

    def _payments(self, order_id: str) -> dict[str, Any]:
        books = self.ledger()
        charges = [c for c in books["charges"] if c.get("reference") == order_id]
        ids = {c["chargeId"] for c in charges}
        refunds = [r for r in books["refunds"] if r.get("chargeId") in ids]
        return {"provider": books["provider"], "charges": charges, "refunds": refunds}

    # ------------------------------------------------------------------ queues

    def queues(self) -> dict[str, Any]:
        sqs = self._clients.sqs
        urls = list(_all(sqs, "list_queues", "QueueUrls"))
        attributes = {
            url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=QUEUE_ATTRIBUTES)[
                "Attributes"
            ]
            for url in urls
        }
        name_of_arn = {a["QueueArn"]: _queue_name(url) for url, a in attributes.items()}
        sources: dict[str, list[str]] = {}
        policies: dict[str, dict[str, Any]] = {}
        for url, attrs in attributes.items():
            if "RedrivePolicy" in attrs:
                policy = json.loads(attrs["RedrivePolicy"])
                policies[url] = policy
                target = name_of_arn.get(policy.get("deadLetterTargetArn", ""))
                if target:
                    sources.setdefault(target, []).append(_queue_name(url))
        failure_queues = self._failure_queues(name_of_arn)
        queues = []
        for url, attrs in attributes.items():
            name = _queue_name(url)
            policy = policies.get(url, {})
            queues.append(
                {
                    "name": name,
                    "url": url,
                    "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                    "inFlight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
                    "deadLetterQueue": name_of_arn.get(policy.get("deadLetterTargetArn", "")),
                    "maxReceiveCount": policy.get("maxReceiveCount"),
                    "deadLetterFor": sorted(sources.get(name, [])),
                    "onFailureFor": sorted(failure_queues.get(name, [])),
                    "redrivable": len(sources.get(name, [])) == 1,
                }
            )
        queues.sort(key=lambda q: (not (q["deadLetterFor"] or q["onFailureFor"]), q["name"]))
        return {"queues": queues}

    def _failure_queues(self, name_of_arn: Mapping[str, str]) -> dict[str, list[str]]:
        """Event source mappings' on-failure destinations (stream records that failed)."""
        found: dict[str, list[str]] = {}
        for logical_id, resource in self._resources().items():
            destination = (resource.get("destinationConfig") or {}).get("OnFailure", {})
            name = name_of_arn.get(str(destination.get("Destination", "")))
            if name:
                found.setdefault(name, []).append(logical_id)
        return found

    def redrive(self, queue_name: str) -> dict[str, Any]:
        """Move a dead-letter queue's messages back to the one queue that sends it its dead."""
        listed = {q["name"]: q for q in self.queues()["queues"]}
        queue = listed.get(queue_name)
        if queue is None:
            raise ConsoleError(404, "NOT_FOUND", f"No queue {queue_name}")
        sources = queue["deadLetterFor"]
        if len(sources) != 1:
            raise ConsoleError(
                409,
                "NOT_REDRIVABLE",
                f"{queue_name} is the dead-letter queue of {len(sources)} queues"
                + ("" if sources else ": there is nowhere to send its messages back to"),
            )
        destination = listed[sources[0]]
        moved = _move_messages(self._clients.sqs, queue["url"], destination["url"])
        return {"source": queue_name, "destination": destination["name"], "moved": moved}

    # ------------------------------------------------------------------ alarms

    def alarms(self) -> dict[str, Any]:
        cloudwatch = self._clients.client("cloudwatch")
        alarms = [
            {
                "name": alarm["AlarmName"],
                "state": alarm.get("StateValue"),
                "reason": alarm.get("StateReason"),
                "updated": _iso(alarm.get("StateUpdatedTimestamp")),
                "description": alarm.get("AlarmDescription"),
                "metric": _metric_of(alarm),
                "threshold": alarm.get("Threshold"),
                "comparison": alarm.get("ComparisonOperator"),
            }
            for page in cloudwatch.get_paginator("describe_alarms").paginate()
            for alarm in page.get("MetricAlarms", [])
        ]
        order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
        alarms.sort(key=lambda a: (order.get(str(a["state"]), 3), a["name"]))
        return {"alarms": alarms}


def _move_messages(sqs: Any, source_url: str, destination_url: str) -> int:
    moved = 0
    while moved < REDRIVE_MAX_MESSAGES:
        messages = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=min(10, REDRIVE_MAX_MESSAGES - moved),
            VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            send: dict[str, Any] = {"QueueUrl": destination_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**send)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def _summary(order_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    status = None
    created = updated = None
    total = currency = reason = None
    for item in sorted(items, key=lambda i: str(i.get("sk", ""))):
        detail = _detail(item)
        data = detail.get("data") or {}
        occurred = (detail.get("metadata") or {}).get("occurredAt")
        kind = str(item.get("detailType", ""))
        status = ORDER_STATUS_AFTER.get(kind, status)
        created = created or occurred
        updated = occurred or updated
        total = data.get("totalCents", total)
        currency = data.get("currency", currency)
        if kind in {"OrderRejected", "OrderNeedsAttention"}:
            reason = data.get("reason") or data.get("error")
    return {
        "orderId": order_id,
        "status": status,
        "createdAt": created,
        "updatedAt": updated,
        "totalCents": total,
        "currency": currency,
        "reason": reason,
    }


def _event(item: Mapping[str, Any]) -> dict[str, Any]:
    detail = _detail(item)
    metadata = detail.get("metadata") or {}
    return {
        "sk": item.get("sk"),
        "type": item.get("detailType"),
        "occurredAt": metadata.get("occurredAt"),
        "correlationId": metadata.get("correlationId"),
        "eventId": metadata.get("eventId"),
        "data": shown_sealed(detail.get("data")),
    }


SEALED = "sealed"


def shown_sealed(data: Any) -> Any:
    """An event's data as the console shows it: a field sealed with KMS (`...Ciphertext`, issue
    11: an email, an address) reads "sealed" rather than a page of base64."""
    if not isinstance(data, dict):
        return data
    return {
        key: SEALED if key.endswith("Ciphertext") and isinstance(value, str) else value
        for key, value in data.items()
    }


def _detail(item: Mapping[str, Any]) -> dict[str, Any]:
    raw = item.get("detail")
    if not isinstance(raw, str):
        return {}
    try:
        detail = json.loads(raw)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _metric_of(alarm: Mapping[str, Any]) -> str | None:
    if "MetricName" in alarm:
        dimensions = ", ".join(f"{d['Name']}={d['Value']}" for d in alarm.get("Dimensions", []))
        return f"{alarm.get('Namespace')} {alarm['MetricName']}" + (
            f" ({dimensions})" if dimensions else ""
        )
    if alarm.get("Metrics"):
        return "metric math: " + ", ".join(str(m.get("Id")) for m in alarm["Metrics"])
    return None


def _all(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of a paged listing."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
