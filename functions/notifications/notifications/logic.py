"""Notifications business logic: plain functions on models, the repository and mailer passed in.

CustomerRegistered keeps the customer's contact (the email address only, opened from the
event's sealed `emailCiphertext`: this function's role alone may decrypt it); OrderConfirmed and
OrderRejected email it. An email is plain text built only from what the shop controls: fixed
sentences, the order id, the amount and a fixed reason. Nothing a customer typed (their name
included) is ever mailed, so the shop's address can't carry someone's phishing text.
Each email is sent once per event: the handler runs this under Powertools Idempotency (keyed
on the event's `metadata.eventId`), and the SENT record checked here keeps a redelivery after
the idempotency record expired from sending again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.errors import ContactNotFound
from notifications.events import CONSUMED_EVENTS
from notifications.models import (
    Contact,
    CustomerRegistered,
    Email,
    OrderConfirmed,
    OrderRejected,
    Outcome,
    SentNotification,
)
from shop_shared.events import parse_detail

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from notifications.mailer import Mailer
    from notifications.repository import NotificationsRepository
    from shop_shared.bus import BusEvent
    from shop_shared.sealing import Opener

HANDLED_DETAIL_TYPES = frozenset(CONSUMED_EVENTS)

REJECTION_REASONS = {
    "OUT_OF_STOCK": "Some of the items you ordered are out of stock.",
    "PAYMENT_DECLINED": "Your payment was declined.",
    "PAYMENT_PROVIDER_UNAVAILABLE": "We could not reach the payment provider.",
}
DEFAULT_REJECTION_REASON = "Something went wrong on our side."
SIGNATURE = "\n\nYour shop team"


def is_handled(detail_type: str) -> bool:
    return detail_type in HANDLED_DETAIL_TYPES


def format_amount(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def order_confirmed_email(to: str, order: OrderConfirmed) -> Email:
    return Email(
        to=to,
        subject=f"Your order {order.orderId} is confirmed",
        body=(
            f"Hello,\n\nthank you for your order {order.orderId}. It is confirmed; "
            f"the total is {format_amount(order.totalCents, order.currency)}.{SIGNATURE}"
        ),
    )


def order_rejected_email(to: str, order: OrderRejected) -> Email:
    reason = REJECTION_REASONS.get(order.reason, DEFAULT_REJECTION_REASON)
    return Email(
        to=to,
        subject=f"Your order {order.orderId} could not be completed",
        body=(
            f"Hello,\n\nwe are sorry: we could not complete your order "
            f"{order.orderId}. {reason} Anything reserved or charged for it has been "
            f"released or refunded.{SIGNATURE}"
        ),
    )


def handle_event(
    event: BusEvent,
    *,
    repository: NotificationsRepository,
    mailer: Mailer,
    opener: Opener,
    now: datetime,
) -> Outcome:
    if event.detail_type == "CustomerRegistered":
        registered = parse_detail(event.detail, CustomerRegistered)
        sealed = registered.data
        repository.save_contact(
            Contact(
                customer_id=sealed.customerId,
                email=opener.open(sealed.emailCiphertext, sealed.email_context()),
                updated_at=registered.metadata.occurredAt,
            )
        )
        return Outcome(action="contact_saved", eventId=registered.metadata.eventId)
    if event.detail_type == "OrderConfirmed":
        confirmed = parse_detail(event.detail, OrderConfirmed)
        return _notify(
            event_id=confirmed.metadata.eventId,
            detail_type=event.detail_type,
            customer_id=confirmed.data.customerId,
            order_id=confirmed.data.orderId,
            render=lambda contact: order_confirmed_email(contact.email, confirmed.data),
            repository=repository,
            mailer=mailer,
            now=now,
        )
    if event.detail_type == "OrderRejected":
        rejected = parse_detail(event.detail, OrderRejected)
        return _notify(
            event_id=rejected.metadata.eventId,
            detail_type=event.detail_type,
            customer_id=rejected.data.customerId,
            order_id=rejected.data.orderId,
            render=lambda contact: order_rejected_email(contact.email, rejected.data),
            repository=repository,
            mailer=mailer,
            now=now,
        )
    return Outcome(action="ignored")


def _notify(
    *,
    event_id: str,
    detail_type: str,
    customer_id: str,
    order_id: str,
    render: Callable[[Contact], Email],
    repository: NotificationsRepository,
    mailer: Mailer,
    now: datetime,
) -> Outcome:
    state = repository.sending_state(event_id, customer_id)
    if state.already_sent:
        return Outcome(action="already_sent", eventId=event_id)
    contact = state.contact
    if contact is None:
        raise ContactNotFound(
            f"No contact for customer {customer_id} yet", customer_id=customer_id, event_id=event_id
        )
    message_id = mailer.send(render(contact))
    repository.record_sent(
        SentNotification(
            event_id=event_id,
            detail_type=detail_type,
            customer_id=customer_id,
            order_id=order_id,
            message_id=message_id,
            sent_at=now,
        )
    )
    return Outcome(action="sent", eventId=event_id, messageId=message_id)
