"""GetCustomerProfile (internal query, not on the API): get_customer_profile.handler in-process
on moto, answering what orders' GET /orders/{orderId}/details reads."""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from orders.details.models import CustomerProfileAnswer
from tests.integration.customers.conftest import CustomersState

SUB = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sample events' customer
OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


@pytest.fixture(scope="module")
def get_customer_profile(_customers_cloud: Any) -> ModuleType:
    """The handler imported inside the module's moto, with CUSTOMERS_TABLE_NAME set (cold start)."""
    sys.modules.pop("get_customer_profile", None)
    return importlib.import_module("get_customer_profile")


def register(register_customer: ModuleType, event: dict[str, Any], context: Any) -> Any:
    response = register_customer.handler(event, context)
    assert response["statusCode"] == 201, response
    return json.loads(response["body"])


def test_a_registered_customers_profile_is_found(
    register_customer: ModuleType,
    get_customer_profile: ModuleType,
    sample_event: Any,
    lambda_context: Any,
    customers: CustomersState,
) -> None:
    # Given the sample customer registered through POST /customers
    registered = register(register_customer, sample_event("register_customer"), lambda_context)
    before = customers.items()

    # When orders asks for their profile (the sample event), twice
    first = get_customer_profile.handler(sample_event("get_customer_profile"), lambda_context)
    second = get_customer_profile.handler(sample_event("get_customer_profile"), lambda_context)

    # Then it is the profile GET /customers/me shows, found, and asking changed nothing
    assert first == second == {"customerId": SUB, "found": True, "profile": registered}
    assert customers.items() == before
    # And orders reads the answer with its own model as the same profile
    read = CustomerProfileAnswer.model_validate(first)
    assert read.profile is not None
    assert read.profile.model_dump() == registered


def test_a_customer_without_a_profile_is_an_answer_not_an_error(
    register_customer: ModuleType,
    get_customer_profile: ModuleType,
    sample_event: Any,
    lambda_context: Any,
    customers: CustomersState,
) -> None:
    # Given somebody else registered
    event = sample_event("register_customer")
    event["requestContext"]["authorizer"]["claims"]["sub"] = OTHER
    register(register_customer, event, lambda_context)
    before = customers.items()

    # When orders asks for the sample customer, who did not
    answer = get_customer_profile.handler(sample_event("get_customer_profile"), lambda_context)

    # Then the answer says "not found", and the table is unchanged
    assert answer == {"customerId": SUB, "found": False, "profile": None}
    assert customers.items() == before
    assert CustomerProfileAnswer.model_validate(answer).profile is None


@pytest.mark.parametrize(
    "event",
    [{}, {"customerId": ""}, {"customerId": SUB, "extra": 1}, {"customerId": 7}],
    ids=["empty", "blank id", "unknown field", "not a string"],
)
def test_a_malformed_query_is_refused(
    get_customer_profile: ModuleType,
    event: dict[str, Any],
    lambda_context: Any,
    customers: CustomersState,
) -> None:
    # A caller's bug: the function fails (a Lambda function error) and reads nothing
    with pytest.raises(ValidationError):
        get_customer_profile.handler(event, lambda_context)
    assert customers.items() == {}
