"""Everything the invariant checker judges, read from a running shop in one pass.

The only module of the checker that calls AWS or the payment provider: it reads the tables
through the services' own item models (orders' `OrderEventItem`, the read model's
`OrderSummaryItem`, inventory's `ProductItem` / `ReservationItem`, notifications' `SentItem` /
`ContactItem`), the provider's ledger through its documented API (`GET /v1/charges?reference=`,
`GET /v1/charges/<id>/refunds`), Step Functions' executions, and every message waiting in the
operator queue and in the dead-letter and on-failure queues, without consuming them (see
`peek`). What a deployment can't show (SES's sent mail on AWS, Express executions) is None, and
the judge says it was not observed.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from inventory.models import ProductItem, ReservationItem
from notifications.models import ContactItem, SentItem
from ops.deployment import (
    CANCELLATION_STATE_MACHINE,
    INVENTORY_TABLE,
    NOTIFICATIONS_TABLE,
    OPERATOR_QUEUE,
    ORDER_SUMMARIES_TABLE,
    ORDERS_TABLE,
    SAGA_STATE_MACHINE,
    Deployment,
)
from orders.models import OrderEventItem, order_pk
from orders.read_model.models import OrderSummaryItem

_DESERIALIZE = TypeDeserializer().deserialize
PEEK_HIDE_SECONDS = 30  # how long a peeked message stays hidden while the rest are read
PEEK_MAX_MESSAGES = 5000
PROVIDER_TIMEOUT_SECONDS = 10.0
SAGA_WORKFLOW = "OrderSaga"
CANCELLATION_WORKFLOW = "OrderCancellation"
CANCELLATION_PREFIX = "cancel-"
# History events that show an execution did work: it called one of the saga's functions.
WORK_EVENTS = frozenset({"LambdaFunctionScheduled"})
UNREADABLE_HISTORY = frozenset({"InvalidArn", "ExecutionDoesNotExist"})
CLAIM_WORKFLOWS = {"SAGA": SAGA_WORKFLOW, "CANCELLATION": CANCELLATION_WORKFLOW}


class ChargeFact(BaseModel):
    """One charge at the provider for an order, and what was refunded of it."""

    model_config = ConfigDict(frozen=True)

    chargeId: str
    amountCents: int
    currency: str
    refundedCents: list[int]

    @property
    def net_cents(self) -> int:
        return self.amountCents - sum(self.refundedCents)


class ExecutionFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    workflow: str  # SAGA_WORKFLOW | CANCELLATION_WORKFLOW
    name: str
    executionArn: str
    status: str
    startDate: datetime | None = None
    # From the history, read only when an order has more than one; None: not read or not
    # readable (Express)
    didWork: bool | None = None


class StreamRecord(BaseModel):
    """A DynamoDB stream record an on-failure message points at, as far as the tools care."""

    model_config = ConfigDict(frozen=True)

    key: str  # the item's pk
    orderId: str | None = None
    eventId: str | None = None
    detailType: str | None = None


class QueueMessage(BaseModel):
    """A message waiting in a queue, read without consuming it."""

    model_config = ConfigDict(frozen=True)

    queue: str  # logical id
    messageId: str
    body: Any  # parsed JSON, or the raw text
    receiveCount: int = 0
    # A stream batch's on-failure record: the records it names, read back from the stream
    # (None: not readable any more, e.g. past the stream's 24 hours)
    records: list[StreamRecord] | None = None


class Email(BaseModel):
    """One email SES sent (localcloud's /_localcloud/ses/messages)."""

    model_config = ConfigDict(frozen=True)

    messageId: str
    destinations: list[str]
    subject: str | None = None


class Evidence(BaseModel):
    """A snapshot of the shop, as the judge needs it. None: not observable on this deployment."""

    model_config = ConfigDict(frozen=True)

    takenAt: datetime
    scope: str | None = None  # one order id, or None for every order
    orderEvents: dict[str, list[OrderEventItem]]
    summaries: dict[str, OrderSummaryItem]
    products: dict[str, int]  # sku -> available stock
    reservations: dict[str, ReservationItem]  # order id -> reservation
    provider: dict[str, list[ChargeFact]] | None  # order id -> charges
    contacts: dict[str, str]  # customer id -> email address
    sent: list[SentItem]
    emails: list[Email] | None
    executions: list[ExecutionFact] | None
    # workflow -> order id -> the execution that claimed it (ClaimOrder), where the workflow
    # has the claim guard
    claims: dict[str, dict[str, str]] = {}
    operatorCases: list[QueueMessage]
    deadLetters: list[QueueMessage]
    notes: list[str] = []


# ---------------------------------------------------------------- gathering


def gather(deployment: Deployment, *, order_id: str | None = None) -> Evidence:
    """Read the whole shop (or one order of it). Reads queues without consuming their messages;
    every other read is a read."""
    notes: list[str] = []
    events = order_events(deployment, order_id)
    orders = sorted(events)
    failure_queues = deployment.failure_queues()
    operator_dlq = {
        logical_id
        for logical_id, url in failure_queues.items()
        if deployment.has(OPERATOR_QUEUE)
        and deployment.physical(OPERATOR_QUEUE) in deployment.source_queues(url)
    }
    operator_cases = (
        peek(deployment, OPERATOR_QUEUE, deployment.physical(OPERATOR_QUEUE))
        if deployment.has(OPERATOR_QUEUE)
        else []
    )
    dead_letters: list[QueueMessage] = []
    for logical_id, url in failure_queues.items():
        messages = [
            _with_records(deployment, message) for message in peek(deployment, logical_id, url)
        ]
        if logical_id in operator_dlq:
            operator_cases.extend(messages)  # cases an operator has looked at too often
        dead_letters.extend(messages)
    emails = _emails(deployment)
    if emails is None:
        notes.append("SES's sent mail is not observable here: emails judged by the SENT records")
    executions = _executions(deployment, order_id, notes)
    provider = _provider(deployment, orders, notes)
    return Evidence(
        takenAt=datetime.now(UTC),
        scope=order_id,
        orderEvents=events,
        summaries=_summaries(deployment, order_id),
        products=_products(deployment),
        reservations=_reservations(deployment, order_id),
        provider=provider,
        contacts=contacts(deployment),
        sent=sent_records(deployment, order_id),
        emails=emails,
        executions=executions,
        claims=_claims(deployment, order_id),
        operatorCases=_for_order(operator_cases, order_id),
        deadLetters=_for_order(dead_letters, order_id),
        notes=notes,
    )


def _scan(table: Any, **scan: Any) -> Iterator[dict[str, Any]]:
    return _every_page(table.scan, **scan)


def _query(table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    return _every_page(table.query, **query)


def _every_page(read: Callable[..., Any], **params: Any) -> Iterator[dict[str, Any]]:
    """The items of every page of a Scan or a Query (`read` is `table.scan` or `table.query`)."""
    while True:
        page = read(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _one_or_scan(table: Any, key: dict[str, str] | None, **scan: Any) -> Iterable[dict[str, Any]]:
    """The item with this key (if it exists) when a key is given, else every item scanned."""
    if key is None:
        return _scan(table, ConsistentRead=True, **scan)
    item = table.get_item(Key=key, ConsistentRead=True).get("Item")
    return [item] if item else []


def order_events(deployment: Deployment, order_id: str | None) -> dict[str, list[OrderEventItem]]:
    """Every order's events (or one order's), oldest first, from the event store."""
    table = deployment.table(ORDERS_TABLE)
    if order_id is not None:
        items = _query(
            table, KeyConditionExpression=Key("pk").eq(order_pk(order_id)), ConsistentRead=True
        )
    else:
        items = _scan(table, FilterExpression=Attr("itemType").eq("EVENT"), ConsistentRead=True)
    events: dict[str, list[OrderEventItem]] = defaultdict(list)
    for raw in items:
        if raw.get("itemType") != "EVENT":
            continue
        item = OrderEventItem.model_validate(raw)
        events[item.order_id].append(item)
    return {key: sorted(value, key=lambda item: item.version) for key, value in events.items()}


def _summaries(deployment: Deployment, order_id: str | None) -> dict[str, OrderSummaryItem]:
    key = None if order_id is None else {"pk": order_pk(order_id)}
    items = _one_or_scan(deployment.table(ORDER_SUMMARIES_TABLE), key)
    summaries = (OrderSummaryItem.model_validate(raw) for raw in items)
    return {summary.orderId: summary for summary in summaries}


def _products(deployment: Deployment) -> dict[str, int]:
    table = deployment.table(INVENTORY_TABLE)
    items = _scan(table, FilterExpression=Attr("itemType").eq("PRODUCT"), ConsistentRead=True)
    products = (ProductItem.model_validate(raw) for raw in items)
    return {product.sku: product.stock for product in products}


def _reservations(deployment: Deployment, order_id: str | None) -> dict[str, ReservationItem]:
    key = None if order_id is None else {"pk": f"RESERVATION#{order_id}"}
    items = _one_or_scan(
        deployment.table(INVENTORY_TABLE), key, FilterExpression=Attr("itemType").eq("RESERVATION")
    )
    reservations = (ReservationItem.model_validate(raw) for raw in items)
    return {reservation.orderId: reservation for reservation in reservations}


def contacts(deployment: Deployment) -> dict[str, str]:
    """Customer id -> email address: the contacts notifications keeps (CustomerRegistered)."""
    table = deployment.table(NOTIFICATIONS_TABLE)
    items = _scan(table, FilterExpression=Attr("itemType").eq("CONTACT"), ConsistentRead=True)
    contacts = (ContactItem.model_validate(raw) for raw in items)
    return {contact.customerId: contact.email for contact in contacts}


def sent_records(deployment: Deployment, order_id: str | None) -> list[SentItem]:
    """The SENT records notifications keeps, one per event it mailed."""
    table = deployment.table(NOTIFICATIONS_TABLE)
    condition: ConditionBase = Attr("itemType").eq("SENT")
    if order_id is not None:
        condition = condition & Attr("orderId").eq(order_id)
    return [
        SentItem.model_validate(raw)
        for raw in _scan(table, FilterExpression=condition, ConsistentRead=True)
    ]


def _emails(deployment: Deployment) -> list[Email] | None:
    if not deployment.localcloud or deployment.endpoint_url is None:
        return None
    url = f"{deployment.endpoint_url}/_localcloud/ses/messages"
    with urllib.request.urlopen(url, timeout=PROVIDER_TIMEOUT_SECONDS) as response:
        messages = json.loads(response.read())["messages"]
    return [
        Email(
            messageId=message["id"],
            destinations=_addresses(message.get("destinations")),
            subject=message.get("subject"),
        )
        for message in messages
    ]


def _addresses(destinations: Any) -> list[str]:
    """SendEmail's Destination ({ToAddresses, CcAddresses, BccAddresses}) as one list."""
    if isinstance(destinations, dict):
        return [str(a) for addresses in destinations.values() for a in addresses or []]
    return [str(address) for address in destinations or []]


# ---------------------------------------------------------------- Step Functions


def _executions(
    deployment: Deployment, order_id: str | None, notes: list[str]
) -> list[ExecutionFact] | None:
    sfn = deployment.client("stepfunctions")
    found: list[ExecutionFact] = []
    for workflow, logical_id in (
        (SAGA_WORKFLOW, SAGA_STATE_MACHINE),
        (CANCELLATION_WORKFLOW, CANCELLATION_STATE_MACHINE),
    ):
        arn = deployment.physical(logical_id)
        try:
            listed = [
                execution
                for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                for execution in page["executions"]
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] != "StateMachineTypeNotSupported":
                raise
            notes.append(
                f"{logical_id} is EXPRESS: its executions are not listed by Step Functions "
                "(only in CloudWatch Logs), so duplicate executions were not observed"
            )
            return None
        if order_id is not None:
            names = {order_id, f"{CANCELLATION_PREFIX}{order_id}"}
            listed = [execution for execution in listed if execution["name"] in names]
        counts: dict[str, int] = defaultdict(int)
        for execution in listed:
            counts[execution["name"]] += 1
        for execution in listed:
            did_work = (
                _did_work(sfn, execution["executionArn"]) if counts[execution["name"]] > 1 else None
            )
            found.append(
                ExecutionFact(
                    workflow=workflow,
                    name=execution["name"],
                    executionArn=execution["executionArn"],
                    status=execution["status"],
                    startDate=execution.get("startDate"),
                    didWork=did_work,
                )
            )
    return found


def _did_work(sfn: Any, execution_arn: str) -> bool | None:
    """Whether the execution called any of the workflow's functions (a duplicate start that the
    workflow's claim guard ended calls none); None when its history is not readable (Step
    Functions refuses an Express execution's ARN)."""
    paginator = sfn.get_paginator("get_execution_history")
    try:
        for page in paginator.paginate(executionArn=execution_arn):
            if any(event["type"] in WORK_EVENTS for event in page["events"]):
                return True
    except ClientError as error:
        if error.response["Error"]["Code"] in UNREADABLE_HISTORY:
            return None
        raise
    return False


def _claims(deployment: Deployment, order_id: str | None) -> dict[str, dict[str, str]]:
    """Which execution claimed each order's workflow (the ClaimOrder step's conditional put of
    WORKFLOW#<orderId> / SAGA or CANCELLATION in OrdersTable): workflow -> order id -> ARN."""
    table = deployment.table(ORDERS_TABLE)
    if order_id is not None:
        items: Iterable[dict[str, Any]] = _query(
            table, KeyConditionExpression=Key("pk").eq(f"WORKFLOW#{order_id}"), ConsistentRead=True
        )
    else:
        items = _scan(
            table, FilterExpression=Attr("itemType").eq("WORKFLOW_CLAIM"), ConsistentRead=True
        )
    claims: dict[str, dict[str, str]] = defaultdict(dict)
    for item in items:
        workflow = CLAIM_WORKFLOWS.get(str(item.get("sk")))
        if workflow and item.get("executionId"):
            claims[workflow][str(item["orderId"])] = str(item["executionId"])
    return dict(claims)


# ---------------------------------------------------------------- the payment provider


def _provider(
    deployment: Deployment, order_ids: list[str], notes: list[str]
) -> dict[str, list[ChargeFact]] | None:
    if not deployment.provider_url:
        notes.append("no payment provider URL: money at the provider was not observed")
        return None
    try:
        api_key = deployment.provider_api_key()
    except ClientError as error:  # no access to the secret, or it was never set
        notes.append(f"the provider's API key is not readable ({error}): money not observed")
        return None
    provider = ProviderLedger(deployment.provider_url, api_key)
    return {order_id: provider.charges(order_id) for order_id in order_ids}


class ProviderLedger:
    """The provider's ledger through its read API (docs/contracts.md)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    def charges(self, reference: str) -> list[ChargeFact]:
        query = urllib.parse.urlencode({"reference": reference})
        charges = self._get(f"/v1/charges?{query}")["items"]
        return [
            ChargeFact(
                chargeId=charge["chargeId"],
                amountCents=int(charge["amountCents"]),
                currency=charge["currency"],
                refundedCents=[
                    int(refund["amountCents"])
                    for refund in self._get(
                        f"/v1/charges/{urllib.parse.quote(charge['chargeId'])}/refunds"
                    )["items"]
                ],
            )
            for charge in charges
        ]

    def _get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._base_url}{path}",
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=PROVIDER_TIMEOUT_SECONDS) as response:
            body: dict[str, Any] = json.loads(response.read())
        return body


# ---------------------------------------------------------------- queues


def peek(deployment: Deployment, logical_id: str, url: str) -> list[QueueMessage]:
    """Every message waiting in the queue, left in it: each is received (hidden for a moment,
    so the next receive returns others), then made visible again at once.

    SQS has no read that is not a receive, so a peek counts as one: a queue with a redrive
    policy moves a message to its dead-letter queue after maxReceiveCount peeks (the tools look
    there too).
    """
    sqs = deployment.client("sqs")
    wait = 0 if deployment.localcloud else 1  # AWS samples servers without a long poll
    seen: dict[str, QueueMessage] = {}
    handles: list[str] = []
    while len(seen) < PEEK_MAX_MESSAGES:
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=PEEK_HIDE_SECONDS,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            handles.append(message["ReceiptHandle"])
            seen.setdefault(
                message["MessageId"],
                QueueMessage(
                    queue=logical_id,
                    messageId=message["MessageId"],
                    body=_json_or_text(message.get("Body", "")),
                    receiveCount=int(
                        message.get("Attributes", {}).get("ApproximateReceiveCount", 0)
                    ),
                ),
            )
    for start in range(0, len(handles), 10):
        batch = handles[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(batch)
            ],
        )
    return list(seen.values())


def _with_records(deployment: Deployment, message: QueueMessage) -> QueueMessage:
    """An on-failure record of a stream batch, with the records it names read from the stream."""
    batch = message.body.get("DDBStreamBatchInfo") if isinstance(message.body, dict) else None
    if not isinstance(batch, dict):
        return message
    try:
        records = list(_stream_records(deployment, batch))
    except (ClientError, KeyError, ValueError):
        records = None
    return message.model_copy(update={"records": records})


def _stream_records(deployment: Deployment, batch: dict[str, Any]) -> Iterator[StreamRecord]:
    streams = deployment.client("dynamodbstreams")
    first, last = int(batch["startSequenceNumber"]), int(batch["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    ).get("ShardIterator")
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        for record in page.get("Records", []):
            number = int(record["dynamodb"]["SequenceNumber"])
            if number > last:
                return
            if number >= first:
                yield _stream_record(record["dynamodb"])
        if not page.get("Records"):
            return
        iterator = page.get("NextShardIterator")


def _stream_record(change: dict[str, Any]) -> StreamRecord:
    image = {
        name: _DESERIALIZE(value)
        for name, value in (change.get("NewImage") or change.get("Keys") or {}).items()
    }
    detail = _json_or_text(str(image.get("detail", "")))
    data = detail.get("data") if isinstance(detail, dict) else None
    order_id = data.get("orderId") if isinstance(data, dict) else None
    return StreamRecord(
        key=str(image.get("pk", "")),
        orderId=order_id,
        eventId=image.get("eventId"),
        detailType=image.get("detailType"),
    )


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _for_order(messages: list[QueueMessage], order_id: str | None) -> list[QueueMessage]:
    if order_id is None:
        return messages
    return [message for message in messages if order_id in json.dumps(message.body)]
