"""The notifications table: the only code that talks to DynamoDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from notifications.errors import NotificationsTableBusy
from notifications.models import ContactItem, SendingState, SentItem, contact_key, sent_key
from shop_shared.dynamodb import dynamodb as shared_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from notifications.models import Contact, SentNotification

MAX_BATCH_GET_ROUNDS = 5


class NotificationsRepository(ABC):
    @abstractmethod
    def save_contact(self, contact: Contact) -> None: ...

    @abstractmethod
    def sending_state(self, event_id: str, customer_id: str) -> SendingState:
        """Whether the event's email was sent, and the customer's contact (read consistently)."""

    @abstractmethod
    def record_sent(self, sent: SentNotification) -> None: ...


class DynamoDBNotificationsRepository(NotificationsRepository):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._dynamodb = dynamodb or shared_dynamodb()
        self._table = self._dynamodb.Table(table_name)
        self._table_name = table_name

    def save_contact(self, contact: Contact) -> None:
        self._table.put_item(Item=ContactItem.from_contact(contact).to_dynamodb())

    def sending_state(self, event_id: str, customer_id: str) -> SendingState:
        """Both items in one BatchGetItem, strongly consistent like the two GetItems it
        replaces; keys DynamoDB leaves unprocessed are asked again."""
        sent, contact = sent_key(event_id)["pk"], contact_key(customer_id)["pk"]
        keys: list[dict[str, Any]] = [{"pk": sent}, {"pk": contact}]
        found: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_BATCH_GET_ROUNDS):
            response = self._dynamodb.batch_get_item(
                RequestItems={self._table_name: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in response.get("Responses", {}).get(self._table_name, []):
                found[str(item["pk"])] = item
            pending = (response.get("UnprocessedKeys") or {}).get(self._table_name)
            keys = list(pending["Keys"]) if pending else []
            if not keys:
                contact_item = found.get(contact)
                return SendingState(
                    already_sent=sent in found,
                    contact=ContactItem.model_validate(contact_item).to_contact()
                    if contact_item
                    else None,
                )
        raise NotificationsTableBusy("The notifications table is throttled; retried later")

    def record_sent(self, sent: SentNotification) -> None:
        self._table.put_item(Item=SentItem.from_sent(sent).to_dynamodb())
