"""The inventory table: the only code that talks to DynamoDB.

Every state change is written with its outbox event in one TransactWriteItems, and the
conditions of that transaction are what keep stock from going negative; a cancelled
transaction is translated back into the domain error it means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from inventory.errors import (
    ConcurrentModification,
    OutOfStock,
    ProductChanged,
    ProductNotFound,
    ReservationExists,
    ReservationNotReserved,
)
from inventory.models import (
    CATALOG_INDEX,
    CatalogPosition,
    ProductItem,
    ProductPage,
    ReservationItem,
    ReservationStatus,
    product_key,
    reservation_key,
)
from shop_shared.dynamodb import dynamodb as shared_dynamodb
from shop_shared.events import event_item, outbox_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb import DynamoDBServiceResource

    from inventory.models import Product, Reservation
    from shop_shared.events import DomainEvent

CONDITION_FAILED = "ConditionalCheckFailed"
MAX_BATCH_GET_ROUNDS = 5


class InventoryRepository(ABC):
    @abstractmethod
    def get_product(self, sku: str) -> Product | None: ...

    @abstractmethod
    def get_products(self, skus: Sequence[str]) -> dict[str, Product]:
        """The products that exist among `skus`, by SKU (strongly consistent)."""

    @abstractmethod
    def save_product(self, product: Product, event: DomainEvent[Any], *, expect_new: bool) -> None:
        """Put the product and its event; ProductChanged when it (no longer) exists as expected."""

    @abstractmethod
    def get_reservation(self, order_id: str) -> Reservation | None: ...

    @abstractmethod
    def create_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        """Take each line's quantity from stock and store the reservation with its event, all or
        nothing. ReservationExists when the order has one already, OutOfStock when a line is short.
        """

    @abstractmethod
    def create_tombstone(self, reservation: Reservation) -> None:
        """Store a RELEASED reservation for an order that has none; ReservationExists otherwise."""

    @abstractmethod
    def release_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        """Mark the reservation RELEASED and put each line back in stock, with the event, all or
        nothing. ReservationNotReserved when it is not RESERVED any more.
        """


class CatalogReader(ABC):
    """Read-only paging through the catalog, for the functions whose role may only read."""

    @abstractmethod
    def list_products(self, *, limit: int, after: CatalogPosition | None) -> ProductPage:
        """Up to `limit` products in SKU order, starting after `after` (from the first when
        None), with the position to continue from when more exist."""


def _cancellation_codes(error: ClientError) -> list[str] | None:
    """Per-item reasons of a cancelled transaction, or None for any other error."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return [str(reason.get("Code") or "None") for reason in reasons]


def _failed(codes: list[str], index: int) -> bool:
    """Whether the transaction's item at `index` failed its condition."""
    return index < len(codes) and codes[index] == CONDITION_FAILED


class DynamoDBInventoryRepository(InventoryRepository, CatalogReader):
    def __init__(self, table_name: str, dynamodb: DynamoDBServiceResource | None = None) -> None:
        self._dynamodb = dynamodb or shared_dynamodb()
        self._table = self._dynamodb.Table(table_name)
        self._table_name = table_name

    # ------------------------------------------------------------ products

    def get_product(self, sku: str) -> Product | None:
        item = self._table.get_item(Key=product_key(sku)).get("Item")
        return ProductItem.model_validate(item).to_product() if item else None

    def get_products(self, skus: Sequence[str]) -> dict[str, Product]:
        keys: list[dict[str, Any]] = [product_key(sku) for sku in dict.fromkeys(skus)]
        found: dict[str, Product] = {}
        for _ in range(MAX_BATCH_GET_ROUNDS):
            if not keys:
                return found
            response = self._dynamodb.batch_get_item(
                RequestItems={self._table_name: {"Keys": keys, "ConsistentRead": True}}
            )
            for item in response.get("Responses", {}).get(self._table_name, []):
                product = ProductItem.model_validate(item).to_product()
                found[product.sku] = product
            unprocessed = response.get("UnprocessedKeys") or {}
            pending = unprocessed.get(self._table_name)
            keys = list(pending["Keys"]) if pending else []
        if keys:
            raise ConcurrentModification("The catalog is throttled; try again later")
        return found

    def list_products(self, *, limit: int, after: CatalogPosition | None) -> ProductPage:
        # One more key than asked for tells whether another page exists, so the last page
        # never hands out a cursor to an empty one. The index holds keys only: the products
        # themselves (current stock) come from the table, read consistently.
        positions = self._catalog_keys(limit + 1, after)
        shown = positions[:limit]
        products = self.get_products([position.sku for position in shown])
        return ProductPage(
            products=tuple(products[p.sku] for p in shown if p.sku in products),
            next=shown[-1] if len(positions) > limit else None,
        )

    def _catalog_keys(self, count: int, after: CatalogPosition | None) -> list[CatalogPosition]:
        query: dict[str, Any] = {
            "IndexName": CATALOG_INDEX,
            "KeyConditionExpression": Key("itemType").eq("PRODUCT"),
        }
        if after is not None:
            query["ExclusiveStartKey"] = after.model_dump()
        keys: list[CatalogPosition] = []
        while len(keys) < count:  # a query page also ends at 1 MB: go on until `count`
            page = self._table.query(**query, Limit=count - len(keys))
            keys.extend(CatalogPosition.model_validate(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return keys

    def save_product(self, product: Product, event: DomainEvent[Any], *, expect_new: bool) -> None:
        condition = "attribute_not_exists(pk)" if expect_new else "attribute_exists(pk)"
        codes = self._try_transact(
            [
                self._put(ProductItem.from_product(product).to_dynamodb(), condition),
                self._put_event(event),
            ]
        )
        if codes is None:
            return
        if _failed(codes, 0):
            raise ProductChanged(f"Product {product.sku} changed meanwhile", sku=product.sku)
        raise ConcurrentModification(f"Product {product.sku} is busy", sku=product.sku)

    # ------------------------------------------------------------ reservations

    def get_reservation(self, order_id: str) -> Reservation | None:
        item = self._table.get_item(Key=reservation_key(order_id), ConsistentRead=True).get("Item")
        return ReservationItem.model_validate(item).to_reservation() if item else None

    def create_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        items = [
            self._put(
                ReservationItem.from_reservation(reservation).to_dynamodb(),
                "attribute_not_exists(pk)",
            ),
            *(
                self._update(
                    product_key(line.sku),
                    "SET stock = stock - :quantity",
                    "attribute_exists(pk) AND stock >= :quantity",
                    {":quantity": line.quantity},
                )
                for line in reservation.lines
            ),
            self._put_event(event),
        ]
        codes = self._try_transact(items)
        if codes is None:
            return
        if _failed(codes, 0):
            raise ReservationExists(
                f"Order {reservation.order_id} has a reservation", order_id=reservation.order_id
            )
        for index, line in enumerate(reservation.lines, start=1):
            if _failed(codes, index):
                raise OutOfStock(
                    f"Not enough stock of {line.sku} for {line.quantity}",
                    sku=line.sku,
                    requested=line.quantity,
                    order_id=reservation.order_id,
                )
        raise ConcurrentModification(
            f"Reserving order {reservation.order_id} collided with another write",
            order_id=reservation.order_id,
        )

    def create_tombstone(self, reservation: Reservation) -> None:
        try:
            self._table.put_item(
                Item=ReservationItem.from_reservation(reservation).to_dynamodb(),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ReservationExists(
                    f"Order {reservation.order_id} has a reservation", order_id=reservation.order_id
                ) from error
            raise

    def release_reservation(self, reservation: Reservation, event: DomainEvent[Any]) -> None:
        items = [
            self._update(
                reservation_key(reservation.order_id),
                "SET #status = :released, updatedAt = :now",
                "#status = :reserved",
                {
                    ":released": ReservationStatus.RELEASED.value,
                    ":reserved": ReservationStatus.RESERVED.value,
                    ":now": reservation.updated_at.isoformat(),
                },
                names={"#status": "status"},
            ),
            *(
                self._update(
                    product_key(line.sku),
                    "SET stock = stock + :quantity",
                    "attribute_exists(pk)",
                    {":quantity": line.quantity},
                )
                for line in reservation.lines
            ),
            self._put_event(event),
        ]
        codes = self._try_transact(items)
        if codes is None:
            return
        if _failed(codes, 0):
            raise ReservationNotReserved(
                f"Order {reservation.order_id} is not reserved any more",
                order_id=reservation.order_id,
            )
        for index, line in enumerate(reservation.lines, start=1):
            if _failed(codes, index):
                raise ProductNotFound(
                    f"Product {line.sku} of order {reservation.order_id} is gone",
                    sku=line.sku,
                    order_id=reservation.order_id,
                )
        raise ConcurrentModification(
            f"Releasing order {reservation.order_id} collided with another write",
            order_id=reservation.order_id,
        )

    # ------------------------------------------------------------ helpers

    def _put(self, item: dict[str, Any], condition: str) -> dict[str, Any]:
        return {
            "Put": {"TableName": self._table_name, "Item": item, "ConditionExpression": condition}
        }

    def _put_event(self, event: DomainEvent[Any]) -> dict[str, Any]:
        return self._put(event_item(event, key=outbox_key(event)), "attribute_not_exists(pk)")

    def _update(
        self,
        key: dict[str, str],
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

    def _try_transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run the transaction; None when it committed, else the per-item cancellation codes."""
        try:
            self._dynamodb.meta.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            codes = _cancellation_codes(error)
            if codes is None:
                raise
            return codes
        return None
