"""ShippingTable: the only boto3 user of the shipping service.

A shipment's state change and its event are one TransactWriteItems (the shipment + an outbox
item), so the event can't be lost or published for a change that did not happen. A cancelled
transaction is translated back into the domain signal it means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipping.errors import ShipmentExists, ShipmentNotScheduled
from shipping.models import (
    AddressItem,
    ShipmentItem,
    ShipmentStatus,
    address_key,
    epoch_micros,
    shipment_key,
)
from shop_shared.dynamodb import dynamodb as shared_dynamodb
from shop_shared.events import event_item, outbox_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from shipping.models import CustomerAddress, Shipment
    from shop_shared.events import DomainEvent

CONDITION_FAILED = "ConditionalCheckFailed"


class ShippingRepository(ABC):
    @abstractmethod
    def get_shipment(self, order_id: str) -> Shipment | None:
        """The order's shipment, read consistently."""

    @abstractmethod
    def create_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        """Store a new SCHEDULED shipment with its event; ShipmentExists if the order has one."""

    @abstractmethod
    def create_tombstone(self, shipment: Shipment) -> None:
        """Store a CANCELLED tombstone for an order with no shipment; ShipmentExists otherwise."""

    @abstractmethod
    def cancel_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        """Turn the SCHEDULED shipment into `shipment` (CANCELLED) with its event, all or
        nothing; ShipmentNotScheduled when it is not SCHEDULED any more."""

    @abstractmethod
    def get_address(self, customer_id: str) -> CustomerAddress | None:
        """The customer's registered address, read consistently."""

    @abstractmethod
    def save_address(self, registered: CustomerAddress) -> bool:
        """Keep the address unless a newer one is stored; False when it was older (ignored)."""


def _cancellation_codes(error: ClientError) -> list[str] | None:
    """Per-item reasons of a cancelled transaction, or None for any other error."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return [str(reason.get("Code") or "None") for reason in reasons]


class DynamoDBShippingRepository(ShippingRepository):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._dynamodb = dynamodb or shared_dynamodb()
        self._table = self._dynamodb.Table(table_name)
        self._table_name = table_name

    # ------------------------------------------------------------ shipments

    def get_shipment(self, order_id: str) -> Shipment | None:
        item = self._table.get_item(Key=shipment_key(order_id), ConsistentRead=True).get("Item")
        return ShipmentItem.model_validate(item).to_shipment() if item else None

    def create_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        change = {
            "Put": {
                "TableName": self._table_name,
                "Item": ShipmentItem.from_shipment(shipment).to_dynamodb(),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        if not self._transact(change, event):
            raise ShipmentExists(
                f"Order {shipment.order_id} has a shipment", order_id=shipment.order_id
            )

    def create_tombstone(self, shipment: Shipment) -> None:
        try:
            self._table.put_item(
                Item=ShipmentItem.from_shipment(shipment).to_dynamodb(),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ShipmentExists(
                    f"Order {shipment.order_id} has a shipment", order_id=shipment.order_id
                ) from error
            raise

    def cancel_shipment(self, shipment: Shipment, event: DomainEvent[Any]) -> None:
        change = {
            "Update": {
                "TableName": self._table_name,
                "Key": shipment_key(shipment.order_id),
                "UpdateExpression": "SET #status = :cancelled, updatedAt = :now",
                "ConditionExpression": "#status = :scheduled",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":cancelled": ShipmentStatus.CANCELLED.value,
                    ":scheduled": ShipmentStatus.SCHEDULED.value,
                    ":now": shipment.updated_at.isoformat(),
                },
            }
        }
        if not self._transact(change, event):
            raise ShipmentNotScheduled(
                f"The shipment of order {shipment.order_id} is not scheduled any more",
                order_id=shipment.order_id,
            )

    # ------------------------------------------------------------ addresses

    def get_address(self, customer_id: str) -> CustomerAddress | None:
        item = self._table.get_item(Key=address_key(customer_id), ConsistentRead=True).get("Item")
        return AddressItem.model_validate(item).to_customer_address() if item else None

    def save_address(self, registered: CustomerAddress) -> bool:
        try:
            self._table.put_item(
                Item=AddressItem.from_customer_address(registered).to_dynamodb(),
                ConditionExpression="attribute_not_exists(pk) OR asOfMicros <= :as_of",
                ExpressionAttributeValues={":as_of": epoch_micros(registered.as_of)},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ------------------------------------------------------------ helpers

    def _transact(self, change: dict[str, Any], event: DomainEvent[Any]) -> bool:
        """Write `change` with the event's outbox item; False when `change`'s condition failed."""
        outbox = {
            "Put": {
                "TableName": self._table_name,
                "Item": event_item(event, key=outbox_key(event)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._dynamodb.meta.client.transact_write_items(TransactItems=[change, outbox])  # type: ignore[list-item]
        except ClientError as error:
            codes = _cancellation_codes(error)
            if codes and codes[0] == CONDITION_FAILED:
                return False
            raise
        return True
