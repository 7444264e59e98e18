"""PUT /v1/products/{sku}: upsert_product.handler in-process on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

SKU = "ESPRESSO-250G"
BODY = {"name": "Espresso beans 250 g", "priceCents": 1290, "currency": "EUR", "stock": 40}


def put_request(
    sample_event: Any, *, sku: str = SKU, body: Any = BODY, groups: str | None = "admin"
) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("upsert_product")
    event["path"] = f"/products/{sku}"
    event["requestContext"]["path"] = f"/v1/products/{sku}"
    event["pathParameters"] = {"sku": sku}
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    claims = event["requestContext"]["authorizer"]["claims"]
    if groups is None:
        del claims["cognito:groups"]
    else:
        claims["cognito:groups"] = groups
    return event


def call(module: Any, event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_sample_event_creates_the_product_with_its_event(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given an empty catalog
    # When an admin PUTs a new product (the sample event)
    status, body = call(upsert_product, sample_event("upsert_product"), lambda_context)

    # Then it is created, with its stock as available
    assert status == 201
    assert body == {
        "sku": SKU,
        "name": "Espresso beans 250 g",
        "priceCents": 1290,
        "currency": "EUR",
        "available": 40,
    }
    items = inventory.items()
    product = items[f"PRODUCT#{SKU}"]
    assert product["itemType"] == "PRODUCT"
    assert (product["sku"], product["name"], product["priceCents"], product["currency"]) == (
        SKU,
        "Espresso beans 250 g",
        1290,
        "EUR",
    )
    assert product["stock"] == 40
    assert product["createdAt"] == product["updatedAt"]
    assert sorted(pk.split("#")[0] for pk in items) == ["EVENT", "PRODUCT"]
    # and a ProductUpserted event carries the product
    assert inventory.outbox() == [("ProductUpserted", body)]


def test_a_second_put_updates_the_product_and_sets_its_stock(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given the product exists with 40 on hand
    call(upsert_product, put_request(sample_event), lambda_context)
    created_at = inventory.items()[f"PRODUCT#{SKU}"]["createdAt"]

    # When an admin PUTs it again with another price and 7 on hand
    changed = {**BODY, "priceCents": 1490, "stock": 7}
    status, body = call(upsert_product, put_request(sample_event, body=changed), lambda_context)

    # Then it is updated (200): price and stock replaced, creation time kept
    assert status == 200
    assert (body["priceCents"], body["available"]) == (1490, 7)
    product = inventory.items()[f"PRODUCT#{SKU}"]
    assert (product["priceCents"], product["stock"]) == (1490, 7)
    assert product["createdAt"] == created_at
    assert inventory.stock() == {SKU: 7}
    # and each PUT wrote its own event
    assert sorted(data["available"] for _, data in inventory.outbox()) == [7, 40]


@pytest.mark.parametrize("groups", [None, "customers", "[customers staff]"])
def test_a_caller_outside_the_admin_group_is_forbidden(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any, groups: Any
) -> None:
    # Given a signed-in user who is not in the admin group
    # When they PUT a product
    status, body = call(upsert_product, put_request(sample_event, groups=groups), lambda_context)

    # Then it is refused and nothing is written
    assert status == 403
    assert body["code"] == "FORBIDDEN"
    assert body["message"]
    assert inventory.items() == {}


def test_a_request_without_a_caller_is_forbidden(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    event = put_request(sample_event)
    del event["requestContext"]["authorizer"]

    status, body = call(upsert_product, event, lambda_context)

    assert status == 403
    assert body["code"] == "FORBIDDEN"
    assert inventory.items() == {}


@pytest.mark.parametrize("sku", ["espresso", "A", "-LEADING-DASH", "X" * 33, "SPACE%20D"])
def test_a_malformed_sku_is_a_validation_error(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any, sku: str
) -> None:
    status, body = call(upsert_product, put_request(sample_event, sku=sku), lambda_context)

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert "sku" in body["message"]
    assert inventory.items() == {}


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "priceCents": 0},
        {**BODY, "priceCents": 12.5},
        {**BODY, "priceCents": "1290"},
        {**BODY, "currency": "eur"},
        {**BODY, "currency": "EURO"},
        {**BODY, "stock": -1},
        {k: v for k, v in BODY.items() if k != "name"},
        {**BODY, "name": ""},
        {**BODY, "available": 3},
    ],
)
def test_an_invalid_body_is_a_validation_error_naming_the_field(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any, body: Any
) -> None:
    # Given a body with one bad (or missing, or unknown) field
    field = next(key for key in {**BODY, **body} if BODY.get(key) != body.get(key))

    # When it is PUT

    status, answer = call(upsert_product, put_request(sample_event, body=body), lambda_context)

    # Then it is a 400 naming the field, and nothing is written
    assert status == 400
    assert answer["code"] == "VALIDATION_ERROR"
    assert field in answer["message"]
    assert inventory.items() == {}


def test_a_body_that_is_not_json_is_a_validation_error(
    upsert_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    status, body = call(upsert_product, put_request(sample_event, body="{not json"), lambda_context)

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert inventory.items() == {}
