"""Every AWS call of the read model: OrderSummariesTable, and the order ids of the event store.

The logic sees only the abstract class, so unit tests use a small in-memory fake.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from orders.read_model.models import (
    CUSTOMER_INDEX,
    HeldSummary,
    OrderSummary,
    OrderSummaryItem,
    SummaryPage,
)
from shop_shared.dynamodb import dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from orders.models import Order

FIRST_EVENT_SK = "V#000001"


class OrderSummaryStore(ABC):
    """One summary per order, each written only over an older version of itself."""

    @abstractmethod
    def held(self, order_id: str) -> HeldSummary | None:
        """What the read model holds for the order; None when it holds nothing yet."""

    @abstractmethod
    def save(self, order: Order, *, replace_same_version: bool = False) -> bool:
        """Store the order's summary unless a newer version (or, without `replace_same_version`,
        the same version) is stored already; True when it was written."""

    @abstractmethod
    def page(self, customer_id: str, *, limit: int, after: str | None) -> SummaryPage:
        """Up to `limit` of the customer's summaries, newest first, after the place `after`."""


class DynamoDBOrderSummaryStore(OrderSummaryStore):
    def __init__(self, table_name: str, table: Table | None = None) -> None:
        self._table = table or dynamodb().Table(table_name)

    def held(self, order_id: str) -> HeldSummary | None:
        item = self._table.get_item(
            Key={"pk": f"ORDER#{order_id}"},
            ConsistentRead=True,  # fold onto the latest
        ).get("Item")
        return OrderSummaryItem.model_validate(item).held() if item else None

    def save(self, order: Order, *, replace_same_version: bool = False) -> bool:
        older = "<=" if replace_same_version else "<"
        try:
            self._table.put_item(
                Item=OrderSummaryItem.of(order).to_item(),
                ConditionExpression=f"attribute_not_exists(pk) OR #version {older} :version",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":version": order.version},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def page(self, customer_id: str, *, limit: int, after: str | None) -> SummaryPage:
        condition: ConditionBase = Key("customerId").eq(customer_id)
        if after is not None:
            condition = condition & Key("createdKey").lt(after)
        query: dict[str, Any] = {
            "IndexName": CUSTOMER_INDEX,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,  # newest first
            "Limit": limit + 1,  # one more than asked tells whether another page follows
        }
        rows: list[dict[str, Any]] = []
        while len(rows) <= limit:
            response = self._table.query(**query)
            rows.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            query["Limit"] = limit + 1 - len(rows)
        shown = rows[:limit]
        more = len(rows) > limit
        return SummaryPage(
            summaries=[OrderSummary.model_validate(row) for row in shown],
            next_after=str(shown[-1]["createdKey"]) if more else None,
        )


def order_ids(orders_table: Table) -> Iterator[str]:
    """Every order id in the event store (OrdersTable): one OrderPlaced (version 1) per order."""
    scan: dict[str, Any] = {
        "FilterExpression": Attr("sk").eq(FIRST_EVENT_SK) & Attr("itemType").eq("EVENT"),
        "ProjectionExpression": "pk",
    }
    while True:
        page = orders_table.scan(**scan)
        for item in page.get("Items", []):
            yield str(item["pk"]).removeprefix("ORDER#")
        if "LastEvaluatedKey" not in page:
            return
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
