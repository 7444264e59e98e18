"""The notifications table: the only code that talks to DynamoDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from notifications.models import ContactItem, SentItem, contact_key, sent_key
from shop_shared.dynamodb import dynamodb as shared_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from notifications.models import Contact, SentNotification


class NotificationsRepository(ABC):
    @abstractmethod
    def save_contact(self, contact: Contact) -> None: ...

    @abstractmethod
    def get_contact(self, customer_id: str) -> Contact | None: ...

    @abstractmethod
    def was_sent(self, event_id: str) -> bool: ...

    @abstractmethod
    def record_sent(self, sent: SentNotification) -> None: ...


class DynamoDBNotificationsRepository(NotificationsRepository):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._table = (dynamodb or shared_dynamodb()).Table(table_name)

    def save_contact(self, contact: Contact) -> None:
        self._table.put_item(Item=ContactItem.from_contact(contact).to_dynamodb())

    def get_contact(self, customer_id: str) -> Contact | None:
        item = self._table.get_item(Key=contact_key(customer_id), ConsistentRead=True).get("Item")
        return ContactItem.model_validate(item).to_contact() if item else None

    def was_sent(self, event_id: str) -> bool:
        response = self._table.get_item(
            Key=sent_key(event_id), ConsistentRead=True, ProjectionExpression="pk"
        )
        return "Item" in response

    def record_sent(self, sent: SentNotification) -> None:
        self._table.put_item(Item=SentItem.from_sent(sent).to_dynamodb())
