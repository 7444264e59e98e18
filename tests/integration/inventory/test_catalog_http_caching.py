"""GET /v1/products and /v1/products/{sku}: ETag, Cache-Control and 304 on If-None-Match
(get_product.handler and list_products.handler in-process on moto)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.integration.inventory.conftest import InventoryState

MAX_AGE = "public, max-age=60"  # conftest: CATALOG_MAX_AGE_SECONDS=60


def product_request(sample_event: Any, sku: str, *if_none_match: str) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("get_product")
    event["path"] = f"/products/{sku}"
    event["requestContext"]["path"] = f"/v1/products/{sku}"
    event["pathParameters"] = {"sku": sku}
    return with_if_none_match(event, *if_none_match)


def list_request(sample_event: Any, *if_none_match: str, **query: str) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("list_products")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return with_if_none_match(event, *if_none_match)


def with_if_none_match(event: dict[str, Any], *values: str) -> dict[str, Any]:
    """The header as API Gateway passes it: the last line in headers, every line in
    multiValueHeaders."""
    if values:
        event.setdefault("headers", {})["If-None-Match"] = values[-1]
        event.setdefault("multiValueHeaders", {})["If-None-Match"] = list(values)
    return event


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    """Response headers by lower-case name (single values; the resolver sends multiValue)."""
    merged: dict[str, str] = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = ", ".join(values)
    return merged


@pytest.fixture
def product(inventory: InventoryState) -> str:
    inventory.seed_product("KB-001", stock=12, price_cents=1290)
    return "KB-001"


def test_a_product_carries_a_strong_etag_of_its_body_and_a_public_max_age(
    get_product: Any, sample_event: Any, lambda_context: Any, product: str
) -> None:
    # When the product is read
    response = get_product.handler(product_request(sample_event, product), lambda_context)

    # Then the ETag is a strong tag derived from the very bytes of the body
    assert response["statusCode"] == 200
    headers = headers_of(response)
    digest = hashlib.sha256(response["body"].encode()).hexdigest()[:32]
    assert headers["etag"] == f'"{digest}"'
    assert headers["cache-control"] == MAX_AGE
    assert json.loads(response["body"])["available"] == 12


def test_the_current_etag_in_if_none_match_is_304_with_no_body_and_the_same_headers(
    get_product: Any, sample_event: Any, lambda_context: Any, product: str, inventory: Any
) -> None:
    # Given the product's current ETag
    first = get_product.handler(product_request(sample_event, product), lambda_context)
    etag = headers_of(first)["etag"]
    before = inventory.items()

    # When it is asked for again with that tag
    again = get_product.handler(product_request(sample_event, product, etag), lambda_context)

    # Then 304, no body, the same ETag and Cache-Control (RFC 9110 15.4.5); nothing changed
    assert again["statusCode"] == 304
    assert not again["body"]
    assert headers_of(again)["etag"] == etag
    assert headers_of(again)["cache-control"] == MAX_AGE
    assert inventory.items() == before


@pytest.mark.parametrize(
    "if_none_match",
    [
        '"x", {etag}',  # a list holding it
        "W/{etag}",  # a weak tag: If-None-Match compares weakly
        "*",  # any current representation
        '  "x" ,, {etag} ',  # whitespace and empty list elements
    ],
)
def test_if_none_match_is_read_as_rfc_9110_says(
    get_product: Any, sample_event: Any, lambda_context: Any, product: str, if_none_match: str
) -> None:
    etag = headers_of(get_product.handler(product_request(sample_event, product), lambda_context))[
        "etag"
    ]
    value = if_none_match.format(etag=etag)

    response = get_product.handler(product_request(sample_event, product, value), lambda_context)

    assert response["statusCode"] == 304


def test_the_tag_on_a_second_header_line_counts_too(
    get_product: Any, sample_event: Any, lambda_context: Any, product: str
) -> None:
    etag = headers_of(get_product.handler(product_request(sample_event, product), lambda_context))[
        "etag"
    ]

    response = get_product.handler(
        product_request(sample_event, product, etag, '"other"'), lambda_context
    )

    assert response["statusCode"] == 304


@pytest.mark.parametrize("if_none_match", ['"stale"', "not-a-tag", '"a" "b"', '"unterminated'])
def test_another_tag_or_an_invalid_header_gets_the_full_200(
    get_product: Any, sample_event: Any, lambda_context: Any, product: str, if_none_match: str
) -> None:
    response = get_product.handler(
        product_request(sample_event, product, if_none_match), lambda_context
    )

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["sku"] == product


def test_a_stock_change_changes_the_etag_so_the_old_tag_gets_the_new_body(
    get_product: Any,
    reserve_stock: Any,
    sample_event: Any,
    lambda_context: Any,
    inventory: InventoryState,
) -> None:
    # Given a client holding the tag of 12 available
    product = "KB-001"
    inventory.seed_product(product, stock=12)
    old = get_product.handler(product_request(sample_event, product), lambda_context)
    old_etag = headers_of(old)["etag"]

    # When 2 are reserved and the client revalidates
    reserve_stock.handler(
        {"orderId": "o-1", "items": [{"sku": product, "quantity": 2}]}, lambda_context
    )
    response = get_product.handler(product_request(sample_event, product, old_etag), lambda_context)

    # Then it gets the new representation under a new tag
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["available"] == 10
    assert headers_of(response)["etag"] != old_etag
    assert inventory.stock() == {product: 10}


def test_a_missing_product_is_404_without_an_etag_or_cache_control(
    get_product: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    response = get_product.handler(
        product_request(sample_event, "NO-SUCH-SKU", "*"), lambda_context
    )

    # `*` matches only a current representation: none here, so the 404 stands
    assert response["statusCode"] == 404
    headers = headers_of(response)
    assert "etag" not in headers
    assert "cache-control" not in headers
    assert json.loads(response["body"])["code"] == "NOT_FOUND"


def test_a_catalog_page_has_its_own_etag_and_revalidates_to_304(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: InventoryState
) -> None:
    # Given three products and the first page of two
    for n in range(3):
        inventory.seed_product(f"SKU-{n:03d}", stock=5, price_cents=100 + n)
    first = list_products.handler(list_request(sample_event, limit="2"), lambda_context)
    etag = headers_of(first)["etag"]
    assert headers_of(first)["cache-control"] == MAX_AGE
    assert len(json.loads(first["body"])["items"]) == 2

    # When the same page is revalidated, and another page is asked with that tag
    same = list_products.handler(list_request(sample_event, etag, limit="2"), lambda_context)
    other = list_products.handler(list_request(sample_event, etag, limit="3"), lambda_context)

    # Then the same page is 304, the other page (another body) is a 200 with its own tag
    assert same["statusCode"] == 304
    assert not same["body"]
    assert other["statusCode"] == 200
    assert headers_of(other)["etag"] != etag
    assert len(json.loads(other["body"])["items"]) == 3


def test_a_bad_cursor_is_400_without_an_etag_or_cache_control(
    list_products: Any, sample_event: Any, lambda_context: Any, inventory: Any
) -> None:
    response = list_products.handler(
        list_request(sample_event, "*", cursor="garbage!"), lambda_context
    )

    assert response["statusCode"] == 400
    assert "cache-control" not in headers_of(response)
    assert "etag" not in headers_of(response)
