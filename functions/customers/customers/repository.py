"""The customers table: the only code that talks to DynamoDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from customers.errors import CustomerExists
from customers.models import CustomerItem
from shop_shared.events import event_item, outbox_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from customers.models import Customer
    from shop_shared.events import DomainEvent


class CustomersRepository(ABC):
    @abstractmethod
    def create_customer(self, customer: Customer, event: DomainEvent[Any]) -> None:
        """Store a new customer with its event, in one transaction; CustomerExists if registered."""


class DynamoDBCustomersRepository(CustomersRepository):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._dynamodb = dynamodb or boto3.resource("dynamodb")
        self._table = self._dynamodb.Table(table_name)
        self._table_name = table_name

    def create_customer(self, customer: Customer, event: DomainEvent[Any]) -> None:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": CustomerItem.from_customer(customer).to_dynamodb(),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": event_item(event, key=outbox_key(event)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self._dynamodb.meta.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise CustomerExists(
                    "This user has registered already", customer_id=customer.customer_id
                ) from error
            raise
