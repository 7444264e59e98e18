"""The customers table: the only code that talks to DynamoDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from customers.errors import CustomerExists
from customers.models import CustomerItem, customer_key
from shop_shared.dynamodb import dynamodb as shared_dynamodb
from shop_shared.events import event_item, outbox_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from customers.models import Customer
    from shop_shared.events import DomainEvent


class CustomersRepository(ABC):
    @abstractmethod
    def create_customer(self, customer: Customer, event: DomainEvent[Any]) -> None:
        """Store a new customer with its event, in one transaction; CustomerExists if registered."""


class CustomerReader(ABC):
    """Read-only access, for the functions whose role may only read the table."""

    @abstractmethod
    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer's profile (read consistently: right after registering it is there)."""


class DynamoDBCustomersRepository(CustomersRepository, CustomerReader):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._dynamodb = dynamodb or shared_dynamodb()
        self._table = self._dynamodb.Table(table_name)
        self._table_name = table_name

    def get_customer(self, customer_id: str) -> Customer | None:
        item = self._table.get_item(Key=customer_key(customer_id), ConsistentRead=True).get("Item")
        return CustomerItem.model_validate(item).to_customer() if item else None

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
