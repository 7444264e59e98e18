"""GET /v1/products/{sku}: get_product.handler in-process on moto."""

from __future__ import annotations

import json
from typing import Any


def get_request(sample_event: Any, sku: str) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("get_product")
    event["path"] = f"/products/{sku}"
    event["requestContext"]["path"] = f"/v1/products/{sku}"
    event["pathParameters"] = {"sku": sku}
    return event


def test_an_existing_product_is_returned_with_its_available_stock(
    get_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    # Given a product with 12 on hand
    inventory.seed_product("KB-001", stock=12, price_cents=1290)
    before = inventory.items()

    # When it is read (the sample event)
    response = get_product.handler(sample_event("get_product"), lambda_context)

    # Then the API's product shape is returned, and nothing changed
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "sku": "KB-001",
        "name": "Product KB-001",
        "priceCents": 1290,
        "currency": "EUR",
        "available": 12,
    }
    assert inventory.items() == before


def test_an_unknown_product_is_404(
    get_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    response = get_product.handler(get_request(sample_event, "NO-SUCH-SKU"), lambda_context)

    assert response["statusCode"] == 404
    body = json.loads(response["body"])
    assert body["code"] == "NOT_FOUND"
    assert "NO-SUCH-SKU" in body["message"]
    assert inventory.items() == {}


def test_a_malformed_sku_is_400(get_product: Any, sample_event: Any, lambda_context: Any) -> None:
    response = get_product.handler(get_request(sample_event, "lower-case"), lambda_context)

    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["code"] == "VALIDATION_ERROR"
    assert "sku" in body["message"]
