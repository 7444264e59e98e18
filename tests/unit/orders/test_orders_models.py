"""Validation at the orders boundaries: what a request, a saga payload and a view accept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from orders.models import ConfirmOrderInput, OrderView, PlaceOrderRequest, RejectOrderInput

VALID: dict[str, Any] = {
    "items": [{"sku": "ESPRESSO-250G", "quantity": 2}],
    "paymentToken": "tok_visa",
    "shippingAddress": {
        "line1": "12 Analytical Row",
        "city": "London",
        "postalCode": "NW1 6XE",
        "country": "GB",
    },
}


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def test_a_valid_request_is_accepted_as_sent() -> None:
    request = PlaceOrderRequest.model_validate(VALID)
    assert request.items[0].quantity == 2
    assert request.shippingAddress is not None
    assert request.shippingAddress.line2 is None


def test_25_lines_of_up_to_100_are_accepted() -> None:
    items = [{"sku": f"SKU-{n:02d}", "quantity": 100} for n in range(25)]
    assert len(PlaceOrderRequest.model_validate(with_changes(items=items)).items) == 25


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (with_changes(items=[]), "at least 1"),
        (
            with_changes(items=[{"sku": f"S-{n:02d}", "quantity": 1} for n in range(26)]),
            "at most 25",
        ),
        (
            with_changes(items=[{"sku": "ESPRESSO-250G", "quantity": 0}]),
            "greater than or equal to 1",
        ),
        (
            with_changes(items=[{"sku": "ESPRESSO-250G", "quantity": 101}]),
            "less than or equal to 100",
        ),
        (with_changes(items=[{"sku": "ESPRESSO-250G", "quantity": "2"}]), "valid integer"),
        (with_changes(items=[{"sku": "ESPRESSO-250G", "quantity": True}]), "valid integer"),
        (with_changes(items=[{"sku": "espresso", "quantity": 1}]), "pattern"),
        (with_changes(items=[{"sku": "-ABC", "quantity": 1}]), "pattern"),
        (with_changes(items=[{"sku": "A", "quantity": 1}]), "pattern"),
        (
            with_changes(items=[{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 2}]),
            "repeated: MUG",
        ),
        (with_changes(items=[{"sku": "MUG", "quantity": 1, "priceCents": 1}]), "Extra inputs"),
        (with_changes(paymentToken="visa"), "pattern"),
        (with_changes(paymentToken="tok_" + "x" * 65), "pattern"),
        (with_changes(paymentToken="tok_a b"), "pattern"),
        (with_changes(totalCents=1), "Extra inputs"),
        (with_changes(shippingAddress={**VALID["shippingAddress"], "country": "gb"}), "pattern"),
        (with_changes(shippingAddress={**VALID["shippingAddress"], "city": "  "}), "at least 1"),
        ({"items": VALID["items"]}, "Field required"),
    ],
)
def test_invalid_requests_are_refused_with_the_reason(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        PlaceOrderRequest.model_validate(body)


def test_confirm_input_refuses_a_payment_that_does_not_match_the_reservation() -> None:
    state = {
        "orderId": "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f",
        "reservation": {"totalCents": 3470, "currency": "EUR"},
        "payment": {"paymentId": "ch_1", "amountCents": 3400, "currency": "EUR"},
    }
    with pytest.raises(ValidationError, match="does not match"):
        ConfirmOrderInput.model_validate(state)


def test_saga_inputs_ignore_the_rest_of_the_state_but_check_the_order_id() -> None:
    state = {
        "orderId": "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f",
        "paymentToken": "tok_visa",
        "reservation": {"totalCents": 1, "currency": "EUR"},
        "error": {"Error": "OutOfStock", "Cause": "{}"},
    }
    assert RejectOrderInput.model_validate(state).error.Error == "OutOfStock"
    with pytest.raises(ValidationError):
        RejectOrderInput.model_validate({**state, "orderId": "../../etc"})


def test_the_view_has_null_totals_and_no_reason_until_there_is_one() -> None:
    at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    view = OrderView(
        orderId="7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f",
        customerId="c",
        status="PENDING",
        items=[],
        shippingAddress=None,
        totalCents=None,
        currency=None,
        history=[],
        createdAt=at,
        updatedAt=at,
    )
    body = view.model_dump(mode="json")
    assert body["totalCents"] is None
    assert body["currency"] is None
    assert "reason" not in body
    assert body["createdAt"] == "2026-11-25T14:00:00Z"
