"""POST /v1/orders in-process on moto: OrdersTable + OrdersIdempotencyTable as in template.yaml."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from types import ModuleType
from typing import Any

import boto3
import pytest

from orders.errors import IdempotencyKeyInUse
from orders.idempotency import IdempotentOrderPlacement
from orders.models import OrderAccepted, PlaceOrder, PlaceOrderRequest
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    all_items,
    api_event,
    body_of,
    load_handler,
    payment_token_key,
    sample_event,
    without_header,
)
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sealing import customer_data_key, open_on_moto

VALID_BODY = json.loads(sample_event("place_order")["body"])
KEY = sample_event("place_order")["headers"]["Idempotency-Key"]


@pytest.fixture
def tables(make_table: Any) -> tuple[Any, Any]:
    make_table("OrderPlacementLimitsTable")
    return make_table("OrdersTable"), make_table("OrdersIdempotencyTable")


def place_order_environment(limit: int) -> dict[str, str]:
    return {
        "ORDERS_TABLE_NAME": "OrdersTable",
        "IDEMPOTENCY_TABLE_NAME": "OrdersIdempotencyTable",
        "PAYMENT_TOKEN_KEY_ID": payment_token_key(),
        "CUSTOMER_DATA_KEY_ID": customer_data_key(),
        "ORDER_PLACEMENT_LIMITS_TABLE_NAME": "OrderPlacementLimitsTable",
        "ORDER_PLACEMENT_LIMIT": str(limit),
        "ORDER_PLACEMENT_LIMIT_WINDOW_SECONDS": "3600",
    }


@pytest.fixture
def place_order(monkeypatch: pytest.MonkeyPatch, tables: tuple[Any, Any]) -> ModuleType:
    # The per-customer limit well above what these tests place (its own tests below).
    return load_handler(monkeypatch, "place_order", **place_order_environment(limit=1000))


def post(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = module.handler(event, FakeLambdaContext())
    return response


def test_the_sample_event_places_a_pending_order(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables

    # When the sample POST /orders arrives
    response = post(place_order, sample_event("place_order"))

    # Then 202 PENDING with the order's location
    assert response["statusCode"] == 202
    body = body_of(response)
    order_id = body["orderId"]
    assert body == {"orderId": order_id, "status": "PENDING"}
    assert response["multiValueHeaders"]["Location"] == [f"/v1/orders/{order_id}"]

    # And OrdersTable holds exactly the OrderPlaced event, version 1, the token beside it
    (item,) = all_items(orders)
    assert {k: item[k] for k in ("pk", "sk", "itemType", "source", "detailType", "version")} == {
        "pk": f"ORDER#{order_id}",
        "sk": "V#000001",
        "itemType": "EVENT",
        "source": "shop.orders",
        "detailType": "OrderPlaced",
        "version": 1,
    }
    assert item["customerId"] == CUSTOMER
    # sealed with the payment-token key for this order: only its ciphertext is stored
    assert "paymentToken" not in item
    assert "tok_visa" not in json.dumps(item, default=str)
    opened = boto3.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(item["paymentTokenCiphertext"]),
        EncryptionContext={"orderId": order_id},
    )
    assert opened["Plaintext"] == b"tok_visa"
    detail = json.loads(item["detail"])
    assert detail["data"] == {
        "orderId": order_id,
        "customerId": CUSTOMER,
        "items": VALID_BODY["items"],
        "shippingAddressCiphertext": detail["data"]["shippingAddressCiphertext"],
    }
    # the address is in the event (bus, saga, history) only sealed with the customer-data key
    # for this order; the clear one is kept beside the event for the owner's GET /orders/{id}
    address = VALID_BODY["shippingAddress"]
    assert address["line1"] not in item["detail"]
    context = {"orderId": order_id, "field": "shippingAddress"}
    opened_address = open_on_moto(detail["data"]["shippingAddressCiphertext"], context)
    assert json.loads(opened_address) == address
    assert item["shippingAddress"] == address
    assert detail["metadata"]["eventId"] == item["eventId"]
    assert (
        detail["metadata"]["correlationId"]
        == sample_event("place_order")["requestContext"]["requestId"]
    )

    # And the idempotency key is remembered as completed
    (record,) = all_items(idempotency)
    assert record["status"] == "COMPLETED"
    assert json.loads(record["data"]) == body
    # under a SHA-256 of the caller and their key (issue 11, finding 7: not MD5)
    caller = sample_event("place_order")["requestContext"]["authorizer"]["claims"]["sub"]
    key_digest = hashlib.sha256(json.dumps([caller, KEY], sort_keys=True).encode()).hexdigest()
    assert record["id"].endswith(f"#{key_digest}")
    assert re.fullmatch(r"[0-9a-f]{64}", record["validation"])


def test_each_post_without_an_idempotency_key_is_a_new_order(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables
    event = without_header(sample_event("place_order"), "Idempotency-Key")

    first, second = post(place_order, event), post(place_order, event)

    assert body_of(first)["orderId"] != body_of(second)["orderId"]
    assert len(all_items(orders)) == 2
    assert all_items(idempotency) == []


def test_a_retry_with_the_same_key_returns_the_same_order_and_writes_nothing(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables
    # Given an order placed with an Idempotency-Key
    first = post(place_order, sample_event("place_order"))

    # When the client retries, the second time with the header name in lower case
    lower_case = api_event("place_order", headers={"idempotency-key": KEY})
    lower_case = without_header(lower_case, "Idempotency-Key")
    second = post(place_order, sample_event("place_order"))
    third = post(place_order, lower_case)

    # Then each answer is the first one, and there is still one order
    assert second["statusCode"] == third["statusCode"] == 202
    assert body_of(first) == body_of(second) == body_of(third)
    assert len(all_items(orders)) == 1
    assert len(all_items(idempotency)) == 1


def test_the_same_key_from_another_customer_is_another_order(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, _ = tables

    mine = post(place_order, api_event("place_order", sub=CUSTOMER))
    theirs = post(place_order, api_event("place_order", sub=OTHER_CUSTOMER))

    assert body_of(mine)["orderId"] != body_of(theirs)["orderId"]
    assert {item["customerId"] for item in all_items(orders)} == {CUSTOMER, OTHER_CUSTOMER}


def test_the_same_key_with_another_body_is_refused(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, _ = tables
    # Given an order placed with a key
    post(place_order, sample_event("place_order"))

    # When the same key comes with a different body
    other_body = {**VALID_BODY, "items": [{"sku": "MUG-CERAMIC", "quantity": 3}]}
    response = post(place_order, api_event("place_order", body=other_body))

    # Then it is refused as a reused key, and nothing more is written
    assert response["statusCode"] == 422
    assert body_of(response) == {
        "message": "This Idempotency-Key was already used with a different request body",
        "code": "IDEMPOTENCY_KEY_REUSED",
    }
    assert len(all_items(orders)) == 1


BAD_BODIES: list[tuple[Any, str]] = [
    ("{not json", "body"),
    ("", "body"),
    ({}, "body.items"),
    ({**VALID_BODY, "items": []}, "body.items"),
    ({**VALID_BODY, "items": [{"sku": "mug", "quantity": 1}]}, "body.items.0.sku"),
    ({**VALID_BODY, "items": [{"sku": "MUG", "quantity": 0}]}, "body.items.0.quantity"),
    ({**VALID_BODY, "items": [{"sku": "MUG", "quantity": 101}]}, "body.items.0.quantity"),
    (
        {**VALID_BODY, "items": [{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 1}]},
        "body",
    ),
    ({**VALID_BODY, "items": [{"sku": "MUG", "quantity": 1, "unitPriceCents": 1}]}, "body"),
    ({**VALID_BODY, "paymentToken": "4242424242424242"}, "body.paymentToken"),
    ({**VALID_BODY, "shippingAddress": {"line1": "x"}}, "body.shippingAddress"),
]


def test_every_bad_body_is_a_400_with_message_and_code_and_writes_nothing(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables
    for body, field in BAD_BODIES:
        # When a request with this body arrives
        response = post(place_order, api_event("place_order", body=body))

        # Then it is refused with a message, a code and the field at fault
        assert response["statusCode"] == 400, body
        error = body_of(response)
        assert error["code"] == "VALIDATION_ERROR", body
        assert error["message"].startswith("Invalid request: "), body
        assert any(p["field"].startswith(field) for p in error["details"]["errors"]), error

    # And nothing was written anywhere
    assert all_items(orders) == []
    assert all_items(idempotency) == []


def test_a_malformed_idempotency_key_is_a_400_and_a_64_character_one_is_fine(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables
    for key in ["", "x" * 65, "has space", "semi;colon", "ключ"]:
        response = post(place_order, api_event("place_order", headers={"Idempotency-Key": key}))

        assert response["statusCode"] == 400, key
        assert body_of(response)["code"] == "VALIDATION_ERROR"
        assert "idempotency-key" in body_of(response)["message"]
    assert all_items(orders) == []
    assert all_items(idempotency) == []

    response = post(place_order, api_event("place_order", headers={"Idempotency-Key": "K" * 64}))

    assert response["statusCode"] == 202
    assert len(all_items(orders)) == 1
    assert len(all_items(idempotency)) == 1


def test_a_request_without_an_authenticated_caller_is_forbidden(
    place_order: ModuleType, tables: tuple[Any, Any]
) -> None:
    event = api_event("place_order")
    event["requestContext"]["authorizer"] = {"claims": {}}

    response = post(place_order, event)

    assert response["statusCode"] == 403
    assert body_of(response)["code"] == "FORBIDDEN"
    assert all_items(tables[0]) == []


def test_a_retry_while_the_first_request_is_still_running_is_a_409(
    tables: tuple[Any, Any],
) -> None:
    # Given the same request arrives again while the first one is still being placed
    orders, idempotency = tables
    command = PlaceOrder(
        customerId=CUSTOMER,
        idempotencyKey=KEY,
        correlationId="corr-1",
        request=PlaceOrderRequest.model_validate(VALID_BODY),
    )
    seen: list[Exception] = []

    def place_while_a_duplicate_arrives(first: PlaceOrder) -> OrderAccepted:
        try:
            placement(first)
        except IdempotencyKeyInUse as error:
            seen.append(error)
            raise
        raise AssertionError("the duplicate was placed")

    placement = IdempotentOrderPlacement(
        place_while_a_duplicate_arrives, table_name="OrdersIdempotencyTable"
    )

    # When / Then the duplicate is refused as in progress (409), and nothing stays behind
    with pytest.raises(IdempotencyKeyInUse):
        placement(command)
    assert [(e.code, e.http_status) for e in seen] == [("IDEMPOTENCY_KEY_IN_USE", 409)]
    assert all_items(orders) == []
    assert all_items(idempotency) == []  # the failed first attempt released the key


# ---------------------------------------------------------------- the per-customer limit


@pytest.fixture
def limited_to_two(monkeypatch: pytest.MonkeyPatch, tables: tuple[Any, Any]) -> ModuleType:
    return load_handler(monkeypatch, "place_order", **place_order_environment(limit=2))


def counters() -> list[dict[str, Any]]:
    return all_items(boto3.resource("dynamodb").Table("OrderPlacementLimitsTable"))


def test_an_order_over_the_customers_limit_is_429_with_retry_after_and_writes_nothing(
    limited_to_two: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, idempotency = tables
    event = without_header(sample_event("place_order"), "Idempotency-Key")
    # Given the customer placed as many orders as the window allows
    placed = [post(limited_to_two, event) for _ in range(2)]
    assert [p["statusCode"] for p in placed] == [202, 202]

    # When they place one more in the same window
    refused = post(limited_to_two, event)

    # Then it is refused 429 with Retry-After (seconds to the next window) and the error body
    assert refused["statusCode"] == 429
    assert body_of(refused)["code"] == "TOO_MANY_ORDERS"
    assert body_of(refused)["message"]
    (retry_after,) = refused["multiValueHeaders"]["Retry-After"]
    assert 1 <= int(retry_after) <= 3600
    # And no order was written for it (no OrderPlaced: no saga, no stock held, no event)
    assert len(all_items(orders)) == 2
    assert all_items(idempotency) == []
    # And the window's counter holds the two placed orders, with a TTL after the window
    (counter,) = counters()
    assert counter["pk"].startswith(f"CUSTOMER#{CUSTOMER}#")
    assert counter["placed"] == 2
    window_start = int(counter["pk"].rsplit("#", 1)[1])
    assert counter["expiresAt"] == window_start + 2 * 3600

    # And another customer is not limited by it
    other = post(limited_to_two, api_event("place_order", sub=OTHER_CUSTOMER))
    assert other["statusCode"] == 202


def test_a_replayed_idempotency_key_is_not_counted_again(
    limited_to_two: ModuleType, tables: tuple[Any, Any]
) -> None:
    orders, _ = tables
    # Given one order placed with an Idempotency-Key and replayed three times
    first = post(limited_to_two, sample_event("place_order"))
    replays = [post(limited_to_two, sample_event("place_order")) for _ in range(3)]
    assert {body_of(r)["orderId"] for r in [first, *replays]} == {body_of(first)["orderId"]}
    assert counters()[0]["placed"] == 1

    # When the customer places a second, different order: the limit (2) still has room for it
    second = post(limited_to_two, without_header(sample_event("place_order"), "Idempotency-Key"))
    assert second["statusCode"] == 202
    # And a third is refused, while a replay of the first key still answers the first order
    third = post(limited_to_two, api_event("place_order", headers={"Idempotency-Key": "other-1"}))
    replay = post(limited_to_two, sample_event("place_order"))

    assert third["statusCode"] == 429
    assert replay["statusCode"] == 202
    assert body_of(replay) == body_of(first)
    assert len({i["pk"] for i in all_items(orders)}) == 2
    assert counters()[0]["placed"] == 2
