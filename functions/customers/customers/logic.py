"""Customers business logic: plain functions on models, the repository passed in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from customers.errors import CustomerNotFound
from customers.models import (
    EVENT_SOURCE,
    PRODUCER,
    Customer,
    CustomerProfileAnswer,
    CustomerRegistered,
)
from shop_shared.events import new_event

if TYPE_CHECKING:
    from datetime import datetime

    from customers.models import GetCustomerProfileInput, RegisterCustomerRequest
    from customers.repository import CustomerReader, CustomersRepository


def register_customer(
    customer_id: str,
    request: RegisterCustomerRequest,
    *,
    repository: CustomersRepository,
    correlation_id: str,
    now: datetime,
) -> Customer:
    """Create the caller's profile with a CustomerRegistered event; CustomerExists the 2nd time."""
    customer = Customer(
        customer_id=customer_id,
        name=request.name,
        email=request.email,
        address=request.address,
        created_at=now,
    )
    event = new_event(
        source=EVENT_SOURCE,
        detail_type="CustomerRegistered",
        data=CustomerRegistered(
            customerId=customer.customer_id,
            name=customer.name,
            email=customer.email,
            address=customer.address,
        ),
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=now,
    )
    repository.create_customer(customer, event)
    return customer


def get_customer(customer_id: str, *, repository: CustomerReader) -> Customer:
    """The caller's own profile; CustomerNotFound (404) before they have registered."""
    customer = repository.get_customer(customer_id)
    if customer is None:
        raise CustomerNotFound(
            "No profile yet: register with POST /v1/customers first", customer_id=customer_id
        )
    return customer


def find_customer_profile(
    query: GetCustomerProfileInput, *, repository: CustomerReader
) -> CustomerProfileAnswer:
    """Another service asks for a customer's profile: the profile, or found=false (an answer,
    not an error: the caller decides what a missing profile means)."""
    customer = repository.get_customer(query.customerId)
    return CustomerProfileAnswer.of(query.customerId, customer)
