"""GET /v1/customers/me: get_customer.handler in-process on moto."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.customers.conftest import CustomersState

SUB = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sample events' caller
OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def call(module: Any, event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def as_caller(event: dict[str, Any], sub: str) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


def test_a_registered_customer_reads_their_profile(
    register_customer: Any,
    get_customer: Any,
    sample_event: Any,
    lambda_context: Any,
    customers: CustomersState,
) -> None:
    # Given the caller registered (the sample registration)
    status, registered = call(register_customer, sample_event("register_customer"), lambda_context)
    assert status == 201
    before = customers.items()

    # When they read their profile, twice
    first = call(get_customer, sample_event("get_customer"), lambda_context)
    second = call(get_customer, sample_event("get_customer"), lambda_context)

    # Then it is the profile they registered, and reading changed nothing
    assert first == second == (200, registered)
    assert registered["customerId"] == SUB
    assert set(registered) == {"customerId", "name", "email", "address"}
    assert customers.items() == before


def test_before_registering_the_profile_is_404(
    register_customer: Any,
    get_customer: Any,
    sample_event: Any,
    lambda_context: Any,
    customers: CustomersState,
) -> None:
    # Given somebody else registered
    register = as_caller(sample_event("register_customer"), OTHER)
    assert call(register_customer, register, lambda_context)[0] == 201
    before = customers.items()

    # When the sample caller, who has not, asks for their profile
    status, body = call(get_customer, sample_event("get_customer"), lambda_context)

    # Then 404 NOT_FOUND: nobody else's profile is returned, nothing is written
    assert status == 404
    assert body["code"] == "NOT_FOUND"
    assert "POST /v1/customers" in body["message"]
    assert customers.items() == before


def test_without_an_authenticated_caller_it_is_403(
    get_customer: Any, sample_event: Any, lambda_context: Any, customers: CustomersState
) -> None:
    event = sample_event("get_customer")
    del event["requestContext"]["authorizer"]

    status, body = call(get_customer, event, lambda_context)

    assert (status, body["code"]) == (403, "FORBIDDEN")
    assert customers.items() == {}
