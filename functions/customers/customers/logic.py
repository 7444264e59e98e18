"""Customers business logic: plain functions on models, the repository passed in."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from customers.errors import CustomerNotFound, EmailMismatch, EmailNotVerified
from customers.models import (
    EMAIL_PATTERN,
    EVENT_SOURCE,
    PRODUCER,
    Customer,
    CustomerProfileAnswer,
    CustomerRegistered,
    sealing_context,
)
from shop_shared.events import new_event

if TYPE_CHECKING:
    from datetime import datetime

    from customers.models import GetCustomerProfileInput, RegisterCustomerRequest
    from customers.repository import CustomerReader, CustomersRepository
    from shop_shared.sealing import Sealer


def register_customer(
    customer_id: str,
    request: RegisterCustomerRequest,
    *,
    verified_email: str | None,
    repository: CustomersRepository,
    sealer: Sealer,
    correlation_id: str,
    now: datetime,
) -> Customer:
    """Create the caller's profile with a CustomerRegistered event; CustomerExists the 2nd time.

    The email is the account's verified one (`verified_email`, the token's `email` when its
    `email_verified` is true): the shop never mails an address its owner did not prove.
    The event carries the email and address sealed for this customer (only their consumers
    can open them); the table keeps them clear for the owner's GET /customers/me.
    """
    email = _profile_email(verified_email, request.email)
    customer = Customer(
        customer_id=customer_id,
        name=request.name,
        email=email,
        address=request.address,
        created_at=now,
    )
    event = new_event(
        source=EVENT_SOURCE,
        detail_type="CustomerRegistered",
        data=CustomerRegistered(
            customerId=customer.customer_id,
            name=customer.name,
            emailCiphertext=sealer.seal(
                customer.email, sealing_context(customer.customer_id, "email")
            ),
            addressCiphertext=sealer.seal(
                customer.address.model_dump_json(exclude_none=True),
                sealing_context(customer.customer_id, "address"),
            ),
        ),
        correlation_id=correlation_id,
        producer=PRODUCER,
        occurred_at=now,
    )
    repository.create_customer(customer, event)
    return customer


def _profile_email(verified_email: str | None, requested: str | None) -> str:
    if not verified_email or not re.fullmatch(EMAIL_PATTERN, verified_email):
        raise EmailNotVerified(
            "Your account has no verified email address: verify it, then register"
        )
    if requested is not None and requested.casefold() != verified_email.casefold():
        raise EmailMismatch(
            "The email must be your account's verified address; leave it out to use it"
        )
    return verified_email


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
