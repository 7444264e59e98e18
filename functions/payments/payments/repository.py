"""PaymentsTable: the only boto3 user of the payments service.

A state change and its event are one TransactWriteItems (the record + an outbox item), so the
event cannot be lost or published for a change that did not happen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from payments.errors import PaymentRecordConflict
from payments.models import (
    CHARGE_ATTEMPT_DAYS,
    ChargeAttempt,
    PaymentRecord,
    charge_attempt_key,
    payment_key,
)
from shop_shared.dynamodb import dynamodb
from shop_shared.events import event_item, outbox_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from shop_shared.events import DomainEvent


class PaymentRepository(ABC):
    @abstractmethod
    def get(self, order_id: str) -> PaymentRecord | None:
        """The order's payment record, read consistently."""

    @abstractmethod
    def mark_charge_attempt(self, order_id: str, at: datetime) -> None:
        """Note that a charge request for the order is about to be sent (idempotent)."""

    @abstractmethod
    def charge_attempted(self, order_id: str) -> bool:
        """Whether a charge request for the order was ever sent (read consistently)."""

    @abstractmethod
    def record_charge(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        """Create the CHARGED record with its event; PaymentRecordConflict if one exists."""

    @abstractmethod
    def record_refund(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        """Turn the CHARGED record into `record` (REFUNDED) with its event; else a conflict."""


class DynamoDBPaymentRepository(PaymentRepository):
    def __init__(self, table_name: str, table: Table | None = None) -> None:
        self._table = table or dynamodb().Table(table_name)
        self._client = self._table.meta.client  # the resource's client takes plain Python types

    def get(self, order_id: str) -> PaymentRecord | None:
        item = self._table.get_item(Key=payment_key(order_id), ConsistentRead=True).get("Item")
        return PaymentRecord.model_validate(item) if item else None

    def mark_charge_attempt(self, order_id: str, at: datetime) -> None:
        expires = at + timedelta(days=CHARGE_ATTEMPT_DAYS)
        attempt = ChargeAttempt(
            **charge_attempt_key(order_id),
            orderId=order_id,
            attemptedAt=at,
            expiresAt=int(expires.timestamp()),
        )
        self._table.put_item(Item=attempt.to_item())

    def charge_attempted(self, order_id: str) -> bool:
        found = self._table.get_item(
            Key=charge_attempt_key(order_id), ConsistentRead=True, ProjectionExpression="pk"
        )
        return "Item" in found

    def record_charge(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        self._write(
            record,
            event,
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": record.to_item(),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        )

    def record_refund(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        self._write(
            record,
            event,
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": record.to_item(),
                    "ConditionExpression": "#status = :charged",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":charged": "CHARGED"},
                }
            },
        )

    def _write(self, record: PaymentRecord, event: DomainEvent[Any], change: Any) -> None:
        outbox: Any = {
            "Put": {
                "TableName": self._table.name,
                "Item": event_item(event, key=outbox_key(event)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[change, outbox])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise PaymentRecordConflict(record.orderId) from error
            raise
