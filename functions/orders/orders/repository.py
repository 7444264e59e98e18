"""Every AWS call of the orders service: the event store (DynamoDB) and the saga starter.

The logic sees only the abstract classes, so unit tests use small in-memory fakes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from orders.errors import VersionTaken
from orders.models import (
    PLACED_BY_HOUR_INDEX,
    CancellationInput,
    OrderEventItem,
    SagaInput,
    order_pk,
    placed_hour,
)
from shop_shared.dynamodb import dynamodb
from shop_shared.observability import logger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient
    from pydantic import BaseModel


class OrderEventStore(ABC):
    """The append-only history of each order."""

    @abstractmethod
    def history(self, order_id: str) -> list[OrderEventItem]:
        """The order's events, oldest first; empty when there is no such order."""

    @abstractmethod
    def append(self, item: OrderEventItem) -> None:
        """Store the event at its version; raise VersionTaken when that version exists."""


class DynamoDBOrderEventStore(OrderEventStore):
    def __init__(self, table_name: str, table: Table | None = None) -> None:
        self._table = table or dynamodb().Table(table_name)

    def history(self, order_id: str) -> list[OrderEventItem]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(order_pk(order_id)),
            "ConsistentRead": True,  # decide on the latest version, never a stale one
        }
        items: list[OrderEventItem] = []
        while True:
            page = self._table.query(**query)
            items.extend(OrderEventItem.model_validate(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def append(self, item: OrderEventItem) -> None:
        try:
            self._table.put_item(
                Item=item.to_item(), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionTaken(item.order_id, item.version) from error
            raise


class PlacedOrders(ABC):
    """Which orders were placed when, and whether a saga claimed them (the sweeper's view)."""

    @abstractmethod
    def placed_between(self, start: datetime, end: datetime) -> Iterator[str]:
        """The ids of the orders placed from `start` to `end`, oldest first."""

    @abstractmethod
    def saga_claimed(self, order_id: str) -> bool:
        """Whether a saga execution claimed the order (its ClaimOrder state ran)."""


class DynamoDBPlacedOrders(PlacedOrders):
    """OrdersTable's sparse OrdersPlacedByHour index (one partition per UTC hour) and the
    sagas' claims (`WORKFLOW#<orderId>` / `SAGA`)."""

    def __init__(self, table_name: str, table: Table | None = None) -> None:
        self._table = table or dynamodb().Table(table_name)

    def placed_between(self, start: datetime, end: datetime) -> Iterator[str]:
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour <= end:
            query: dict[str, Any] = {
                "IndexName": PLACED_BY_HOUR_INDEX,
                "KeyConditionExpression": Key("placedHour").eq(placed_hour(hour))
                & Key("occurredAt").between(start.isoformat(), end.isoformat()),
            }
            while True:
                page = self._table.query(**query)
                for item in page.get("Items", []):
                    yield str(item["pk"]).removeprefix("ORDER#")
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            hour += timedelta(hours=1)

    def saga_claimed(self, order_id: str) -> bool:
        found = self._table.get_item(
            Key={"pk": f"WORKFLOW#{order_id}", "sk": "SAGA"},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in found


class SagaStarter(ABC):
    @abstractmethod
    def start(self, saga: SagaInput) -> bool:
        """Start the order's saga (execution name = order id); False when it already exists."""


class CancellationStarter(ABC):
    @abstractmethod
    def start(self, cancellation: CancellationInput) -> bool:
        """Start the order's cancellation (execution name `cancel-<orderId>`); False when it
        already exists."""


class StepFunctionsExecutions:
    """Starts executions of one state machine, each name at most once.

    The client is made at init, unless `rarely_used`: then on the first start (the sweeper,
    which starts a saga only for an order left without one, spares every run's init the
    Step Functions service model, about 20 ms)."""

    def __init__(
        self, state_machine_arn: str, client: SFNClient | None = None, *, rarely_used: bool = False
    ) -> None:
        self._arn = state_machine_arn
        self._client = client
        if self._client is None and not rarely_used:
            self._client = boto3.client("stepfunctions")

    def _sfn(self) -> SFNClient:
        if self._client is None:
            self._client = boto3.client("stepfunctions")
        return self._client

    def start(self, name: str, payload: BaseModel) -> bool:
        client = self._sfn()
        try:
            client.start_execution(
                stateMachineArn=self._arn, name=name, input=payload.model_dump_json()
            )
        except client.exceptions.ExecutionAlreadyExists:
            # A finished execution, or a running one with another input, has this name already.
            # Either way this order's workflow has been started.
            logger.info("execution already started", extra={"execution_name": name})
            return False
        return True


class StepFunctionsSagaStarter(SagaStarter):
    def __init__(
        self, state_machine_arn: str, client: SFNClient | None = None, *, rarely_used: bool = False
    ) -> None:
        self._executions = StepFunctionsExecutions(
            state_machine_arn, client, rarely_used=rarely_used
        )

    def start(self, saga: SagaInput) -> bool:
        return self._executions.start(saga.orderId, saga)


class StepFunctionsCancellationStarter(CancellationStarter):
    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        self._executions = StepFunctionsExecutions(state_machine_arn, client)

    def start(self, cancellation: CancellationInput) -> bool:
        return self._executions.start(cancellation.execution_name, cancellation)


class PlacementCounter(ABC):
    """How many orders a customer placed in a window, counted where every instance sees it."""

    @abstractmethod
    def take(self, key: str, *, limit: int, expires_at: int) -> bool:
        """Count one more placement under `key` unless it holds `limit` already (then False);
        the count may be forgotten after `expires_at` (epoch seconds)."""


class DynamoDBPlacementCounter(PlacementCounter):
    """OrderPlacementLimitsTable: one item per key, `placed` raised by a conditional ADD (atomic
    across concurrent Lambdas), removed by TTL (`expiresAt`) after its window."""

    def __init__(self, table_name: str, table: Table | None = None) -> None:
        self._table = table or dynamodb().Table(table_name)

    def take(self, key: str, *, limit: int, expires_at: int) -> bool:
        try:
            self._table.update_item(
                Key={"pk": key},
                UpdateExpression="ADD placed :one SET expiresAt = if_not_exists(expiresAt, :exp)",
                ConditionExpression="attribute_not_exists(placed) OR placed < :limit",
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":exp": expires_at},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
