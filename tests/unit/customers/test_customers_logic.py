"""customers.logic and models on a small in-memory repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from customers import logic
from customers.errors import CustomerExists
from customers.models import (
    ISO_3166_ALPHA2,
    Customer,
    CustomerItem,
    CustomerProfile,
    RegisterCustomerRequest,
)
from customers.repository import CustomersRepository
from shop_shared.events import DomainEvent
from tests.support.sealing import FakeOpener, FakeSealer

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
BODY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": {
        "line1": "12 Analytical Row",
        "city": "London",
        "postalCode": "NW1",
        "country": "GB",
    },
}


class FakeCustomersRepository(CustomersRepository):
    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.events: list[DomainEvent[Any]] = []

    def create_customer(self, customer: Customer, event: DomainEvent[Any]) -> None:
        if customer.customer_id in self.customers:
            raise CustomerExists("exists")
        self.customers[customer.customer_id] = customer
        self.events.append(event)


@pytest.fixture
def repo() -> FakeCustomersRepository:
    return FakeCustomersRepository()


def register(repo: FakeCustomersRepository, sub: str = "sub-1", **changes: Any) -> Customer:
    request = RegisterCustomerRequest.model_validate({**BODY, **changes})
    return logic.register_customer(
        sub,
        request,
        verified_email=BODY["email"],
        repository=repo,
        sealer=FakeSealer(),
        correlation_id="req-1",
        now=NOW,
    )


def test_registering_creates_the_customer_with_a_customer_registered_event(
    repo: FakeCustomersRepository,
) -> None:
    customer = register(repo)

    assert repo.customers == {"sub-1": customer}
    assert customer.created_at == NOW
    assert CustomerProfile.from_customer(customer).model_dump(exclude_none=True) == {
        "customerId": "sub-1",
        **BODY,
    }
    [event] = repo.events
    assert (event.source, event.detail_type) == ("shop.customers", "CustomerRegistered")
    # and the event carries the email and address only sealed, each for this customer and field
    data = event.detail.data.model_dump()
    assert set(data) == {"customerId", "name", "emailCiphertext", "addressCiphertext"}
    assert (data["customerId"], data["name"]) == ("sub-1", BODY["name"])
    assert BODY["email"] not in json.dumps(data)
    opener = FakeOpener()
    email_context = {"customerId": "sub-1", "field": "email"}
    address_context = {"customerId": "sub-1", "field": "address"}
    assert opener.open(data["emailCiphertext"], email_context) == BODY["email"]
    assert json.loads(opener.open(data["addressCiphertext"], address_context)) == BODY["address"]
    assert (event.detail.metadata.correlationId, event.detail.metadata.producer) == (
        "req-1",
        "customers",
    )


def test_registering_twice_raises_customer_exists_and_keeps_the_first(
    repo: FakeCustomersRepository,
) -> None:
    first = register(repo)

    with pytest.raises(CustomerExists) as raised:
        register(repo, name="Someone Else")

    assert (raised.value.http_status, raised.value.code) == (409, "CUSTOMER_EXISTS")
    assert repo.customers == {"sub-1": first}
    assert len(repo.events) == 1


def test_the_stored_item_maps_back_to_the_same_customer(repo: FakeCustomersRepository) -> None:
    customer = register(repo)

    item = CustomerItem.from_customer(customer).to_dynamodb()

    assert item["pk"] == "CUSTOMER#sub-1"
    assert item["itemType"] == "CUSTOMER"
    assert "line2" not in item["address"]
    assert CustomerItem.model_validate(item).to_customer() == customer


@pytest.mark.parametrize(
    "email",
    ["ada@example.com", "a.b+tag@mail.example.co.uk", "o'brien@example.ie", "x_y@sub-d.example.io"],
)
def test_plausible_emails_are_accepted(email: str) -> None:
    assert RegisterCustomerRequest.model_validate({**BODY, "email": email}).email == email


@pytest.mark.parametrize(
    "email",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a b@example.com",
        "ada@@example.com",
        "ada@-example.com",
        ".ada@example.com",
        "ada..x@example.com",
        "ada@example.c",
    ],
)
def test_implausible_emails_are_refused(email: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        RegisterCustomerRequest.model_validate({**BODY, "email": email})


def test_country_codes_are_the_249_assigned_iso_3166_alpha_2_codes() -> None:
    assert len(ISO_3166_ALPHA2) == 249
    assert {"DE", "GB", "US", "AQ", "XK"} & ISO_3166_ALPHA2 == {"DE", "GB", "US", "AQ"}
    assert all(len(code) == 2 and code.isupper() for code in ISO_3166_ALPHA2)


def test_surrounding_whitespace_is_trimmed() -> None:
    request = RegisterCustomerRequest.model_validate({**BODY, "name": "  Ada  "})
    assert request.name == "Ada"
