"""customers.logic.get_customer on a small in-memory reader."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customers import logic
from customers.errors import CustomerNotFound
from customers.models import Address, Customer, CustomerProfile
from customers.repository import CustomerReader

ADA = Customer(
    customer_id="sub-ada",
    name="Ada Lovelace",
    email="ada@example.com",
    address=Address(line1="12 Analytical Row", city="London", postalCode="NW1 6XE", country="GB"),
    created_at=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
)


class DictReader(CustomerReader):
    def __init__(self, *customers: Customer) -> None:
        self.customers = {customer.customer_id: customer for customer in customers}
        self.reads: list[str] = []

    def get_customer(self, customer_id: str) -> Customer | None:
        self.reads.append(customer_id)
        return self.customers.get(customer_id)


def test_the_callers_profile_is_returned() -> None:
    reader = DictReader(ADA)

    customer = logic.get_customer("sub-ada", repository=reader)

    assert customer == ADA
    assert reader.reads == ["sub-ada"]
    assert CustomerProfile.from_customer(customer).model_dump() == {
        "customerId": "sub-ada",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "address": {
            "line1": "12 Analytical Row",
            "line2": None,
            "city": "London",
            "postalCode": "NW1 6XE",
            "country": "GB",
        },
    }


def test_a_caller_without_a_profile_is_not_found() -> None:
    with pytest.raises(CustomerNotFound) as raised:
        logic.get_customer("sub-grace", repository=DictReader(ADA))

    assert (raised.value.http_status, raised.value.code) == (404, "NOT_FOUND")
    assert raised.value.context == {"customer_id": "sub-grace"}
