"""Notifications models, one set per boundary, with explicit mapping between them.

- Input: `BusEventRecord`, an SQS record whose body is an EventBridge event (`BusEvent`),
  and the `data` of each event consumed (`CustomerRegistered`, `OrderConfirmed`,
  `OrderRejected`), read with `shop_shared.events.parse_detail`.
- Domain: `Contact`, `Email`, `SentNotification`, and the `Outcome` of handling an event.
- Stored items: `ContactItem`, `SentItem` (only the repository uses them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from shop_shared.models import ShopModel
from shop_shared.sealing import SealedValue

# ---------------------------------------------------------------- input


class CustomerRegistered(ShopModel):
    """Only what mailing needs: the event's `name` is not read (an email never carries it), nor
    its sealed address; the email is sealed for this customer (shop_shared.sealing), opened
    with `email_context`."""

    customerId: Annotated[str, Field(min_length=1)]
    emailCiphertext: SealedValue

    def email_context(self) -> dict[str, str]:
        return {"customerId": self.customerId, "field": "email"}


class OrderConfirmed(ShopModel):
    orderId: Annotated[str, Field(min_length=1)]
    customerId: Annotated[str, Field(min_length=1)]
    totalCents: Annotated[int, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class OrderRejected(ShopModel):
    orderId: Annotated[str, Field(min_length=1)]
    customerId: Annotated[str, Field(min_length=1)]
    reason: Annotated[str, Field(min_length=1)]
    message: str = ""


# ---------------------------------------------------------------- domain


class Contact(ShopModel):
    model_config = ConfigDict(frozen=True)

    customer_id: str
    email: str
    updated_at: datetime


class Email(ShopModel):
    model_config = ConfigDict(frozen=True)

    to: str
    subject: str
    body: str


class SentNotification(ShopModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    detail_type: str
    customer_id: str
    order_id: str
    message_id: str
    sent_at: datetime


class SendingState(ShopModel):
    """What sending an event's email depends on, read together: whether it was sent already
    (its SENT record) and the customer's contact (None when there is none yet)."""

    model_config = ConfigDict(frozen=True)

    already_sent: bool
    contact: Contact | None


class Outcome(ShopModel):
    """What handling one event did; JSON-able, as Powertools Idempotency stores it."""

    action: Literal["contact_saved", "sent", "already_sent", "ignored"]
    eventId: str | None = None
    messageId: str | None = None


# ---------------------------------------------------------------- stored items


def contact_key(customer_id: str) -> dict[str, str]:
    return {"pk": f"CONTACT#{customer_id}"}


def sent_key(event_id: str) -> dict[str, str]:
    return {"pk": f"SENT#{event_id}"}


class ContactItem(ShopModel):
    pk: str
    itemType: Literal["CONTACT"] = "CONTACT"
    customerId: str
    email: str
    updatedAt: datetime

    @classmethod
    def from_contact(cls, contact: Contact) -> ContactItem:
        return cls(
            **contact_key(contact.customer_id),
            customerId=contact.customer_id,
            email=contact.email,
            updatedAt=contact.updated_at,
        )

    def to_contact(self) -> Contact:
        return Contact(
            customer_id=self.customerId,
            email=self.email,
            updated_at=self.updatedAt,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class SentItem(ShopModel):
    """The record of one email sent; it holds no address or content (personal data)."""

    pk: str
    itemType: Literal["SENT"] = "SENT"
    eventId: str
    detailType: str
    customerId: str
    orderId: str
    messageId: str
    sentAt: datetime

    @classmethod
    def from_sent(cls, sent: SentNotification) -> SentItem:
        return cls(
            **sent_key(sent.event_id),
            eventId=sent.event_id,
            detailType=sent.detail_type,
            customerId=sent.customer_id,
            orderId=sent.order_id,
            messageId=sent.message_id,
            sentAt=sent.sent_at,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
