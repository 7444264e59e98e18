"""Customers business logic: plain functions on models, the repository passed in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from customers.models import EVENT_SOURCE, PRODUCER, Customer, CustomerRegistered
from shop_shared.events import new_event

if TYPE_CHECKING:
    from datetime import datetime

    from customers.models import RegisterCustomerRequest
    from customers.repository import CustomersRepository


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
            customerId=customer.customer_id, name=customer.name, email=customer.email
        ),
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=now,
    )
    repository.create_customer(customer, event)
    return customer
