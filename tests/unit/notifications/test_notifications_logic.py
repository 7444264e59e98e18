"""notifications.logic with a small in-memory repository and mailer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from notifications import logic
from notifications.errors import ContactNotFound
from notifications.mailer import Mailer
from notifications.models import (
    Contact,
    Email,
    OrderConfirmed,
    OrderRejected,
    Outcome,
    SendingState,
    SentNotification,
)
from notifications.repository import NotificationsRepository
from shop_shared.bus import BusEvent
from tests.support.sealing import FakeOpener, fake_seal

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
OCCURRED = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


class FakeNotificationsRepository(NotificationsRepository):
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.sent: dict[str, SentNotification] = {}

    def save_contact(self, contact: Contact) -> None:
        self.contacts[contact.customer_id] = contact

    def sending_state(self, event_id: str, customer_id: str) -> SendingState:
        return SendingState(
            already_sent=event_id in self.sent, contact=self.contacts.get(customer_id)
        )

    def record_sent(self, sent: SentNotification) -> None:
        self.sent[sent.event_id] = sent


class FakeMailer(Mailer):
    def __init__(self) -> None:
        self.outbox: list[Email] = []

    def send(self, email: Email) -> str:
        self.outbox.append(email)
        return f"msg-{len(self.outbox)}"


@pytest.fixture
def repo() -> FakeNotificationsRepository:
    return FakeNotificationsRepository()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


def bus_event(detail_type: str, data: dict[str, Any], event_id: str = "evt-1") -> BusEvent:
    return BusEvent.model_validate(
        {
            "id": "eb-1",
            "source": "shop.orders",
            "detail-type": detail_type,
            "detail": {
                "metadata": {
                    "eventId": event_id,
                    "schemaVersion": "1",
                    "occurredAt": OCCURRED.isoformat(),
                    "correlationId": "corr-1",
                    "producer": "orders",
                },
                "data": data,
            },
        }
    )


def registered(customer_id: str, email: str, name: str = "Ada") -> dict[str, str]:
    """CustomerRegistered's data, its email sealed for the customer as customers seals it."""
    context = {"customerId": customer_id, "field": "email"}
    address_context = {"customerId": customer_id, "field": "address"}
    return {
        "customerId": customer_id,
        "name": name,
        "emailCiphertext": fake_seal(email, context),
        "addressCiphertext": fake_seal('{"line1": "1 Main St"}', address_context),
    }


REGISTERED = bus_event("CustomerRegistered", registered("c-1", "ada@example.com"), "evt-r")
CONFIRMED = bus_event(
    "OrderConfirmed", {"orderId": "o-1", "customerId": "c-1", "totalCents": 3470, "currency": "EUR"}
)
REJECTED = bus_event(
    "OrderRejected",
    {"orderId": "o-2", "customerId": "c-1", "reason": "PAYMENT_DECLINED", "message": "declined"},
    "evt-2",
)


def handle(event: BusEvent, repo: FakeNotificationsRepository, mailer: FakeMailer) -> Outcome:
    return logic.handle_event(event, repository=repo, mailer=mailer, opener=FakeOpener(), now=NOW)


def test_customer_registered_keeps_the_contact(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    outcome = handle(REGISTERED, repo, mailer)

    assert outcome == Outcome(action="contact_saved", eventId="evt-r")
    assert repo.contacts == {
        "c-1": Contact(customer_id="c-1", email="ada@example.com", updated_at=OCCURRED)
    }
    assert mailer.outbox == []
    assert repo.sent == {}


def test_order_confirmed_emails_the_contact_and_records_it(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    handle(REGISTERED, repo, mailer)

    outcome = handle(CONFIRMED, repo, mailer)

    assert outcome == Outcome(action="sent", eventId="evt-1", messageId="msg-1")
    [email] = mailer.outbox
    assert email.to == "ada@example.com"
    assert email.subject == "Your order o-1 is confirmed"
    assert email.body.startswith("Hello,\n\n")
    assert "34.70 EUR" in email.body
    assert repo.sent == {
        "evt-1": SentNotification(
            event_id="evt-1",
            detail_type="OrderConfirmed",
            customer_id="c-1",
            order_id="o-1",
            message_id="msg-1",
            sent_at=NOW,
        )
    }


def test_order_rejected_explains_the_reason(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    handle(REGISTERED, repo, mailer)

    handle(REJECTED, repo, mailer)

    [email] = mailer.outbox
    assert email.subject == "Your order o-2 could not be completed"
    assert "Your payment was declined." in email.body
    assert "declined" not in email.subject
    assert list(repo.sent) == ["evt-2"]


def test_an_unknown_rejection_reason_gets_the_generic_text(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    handle(REGISTERED, repo, mailer)
    saga_failed = bus_event(
        "OrderRejected", {"orderId": "o-3", "customerId": "c-1", "reason": "SAGA_FAILED"}, "evt-3"
    )

    handle(saga_failed, repo, mailer)

    assert logic.DEFAULT_REJECTION_REASON in mailer.outbox[0].body


def test_an_outcome_for_a_customer_without_contact_raises_and_sends_nothing(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    with pytest.raises(ContactNotFound, match="c-1"):
        handle(CONFIRMED, repo, mailer)

    assert mailer.outbox == []
    assert repo.sent == {}


def test_an_event_already_sent_is_not_sent_again(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    handle(REGISTERED, repo, mailer)
    handle(CONFIRMED, repo, mailer)

    outcome = handle(CONFIRMED, repo, mailer)

    assert outcome == Outcome(action="already_sent", eventId="evt-1")
    assert len(mailer.outbox) == 1
    assert len(repo.sent) == 1


def test_other_detail_types_are_ignored(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    assert not logic.is_handled("OrderShipped")
    assert all(
        logic.is_handled(t) for t in ("CustomerRegistered", "OrderConfirmed", "OrderRejected")
    )

    outcome = handle(bus_event("OrderShipped", {"orderId": "o-1"}), repo, mailer)

    assert outcome == Outcome(action="ignored")
    assert (repo.contacts, repo.sent, mailer.outbox) == ({}, {}, [])


def test_an_event_whose_data_breaks_the_contract_is_refused(
    repo: FakeNotificationsRepository, mailer: FakeMailer
) -> None:
    handle(REGISTERED, repo, mailer)
    broken = bus_event("OrderConfirmed", {"orderId": "o-1", "customerId": "c-1"})

    with pytest.raises(ValidationError, match="totalCents"):
        handle(broken, repo, mailer)

    assert mailer.outbox == []


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00 EUR"), (5, "0.05 EUR"), (3470, "34.70 EUR"), (100000, "1000.00 EUR")],
)
def test_amounts_are_formatted_from_cents(cents: int, text: str) -> None:
    assert logic.format_amount(cents, "EUR") == text


# ---------------------------------------------------------------- issue 11, finding 1


@pytest.mark.parametrize("detail_type", ["OrderConfirmed", "OrderRejected"])
def test_an_email_is_plain_text_built_only_from_fields_the_shop_controls(
    repo: FakeNotificationsRepository, mailer: FakeMailer, detail_type: str
) -> None:
    # Given a contact registered with a name written to be mailed (an event from before names
    # were constrained), and an order outcome for them
    hostile = "Reset your password at http://evil.example <a href=x>here</a>"
    handle(
        bus_event(
            "CustomerRegistered",
            registered("c-1", "ada@example.com", name=hostile),
            "evt-r",
        ),
        repo,
        mailer,
    )
    outcome = CONFIRMED if detail_type == "OrderConfirmed" else REJECTED

    # When the email is sent
    handle(outcome, repo, mailer)

    # Then it holds only the shop's text, the order id and the amount or the reason
    [email] = mailer.outbox
    for text in (email.subject, email.body):
        assert "evil" not in text
        assert "http" not in text
        assert "<" not in text
    order_id = "o-1" if detail_type == "OrderConfirmed" else "o-2"
    expected = (
        logic.order_confirmed_email("ada@example.com", confirmed_data())
        if detail_type == "OrderConfirmed"
        else logic.order_rejected_email("ada@example.com", rejected_data())
    )
    assert email == expected
    assert order_id in email.subject
    assert "name" not in repo.contacts["c-1"].model_dump()  # only what mailing needs is kept


def confirmed_data() -> OrderConfirmed:
    return OrderConfirmed.model_validate(CONFIRMED.detail["data"])


def rejected_data() -> OrderRejected:
    return OrderRejected.model_validate(REJECTED.detail["data"])
