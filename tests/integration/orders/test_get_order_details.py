"""GET /v1/orders/{orderId}/details in-process on moto: the handler, the order's event store and
its breakers in OrdersTable, and the three owning services' real query handlers on their own
tables. moto can't run Lambda code, so Lambda's Invoke is answered in this process by those
handlers (a function's exception becomes a function error, as Lambda reports it)."""

from __future__ import annotations

import importlib
import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.response import StreamingBody

from customers.logic import register_customer
from customers.models import RegisterCustomerRequest
from customers.repository import DynamoDBCustomersRepository
from orders.details.clients import LambdaOwningServices
from orders.logic import get_order
from orders.repository import DynamoDBOrderEventStore
from payments.models import PaymentRecord
from shipping.models import Address, Shipment, ShipmentItem, ShipmentLine, ShipmentStatus
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    SAMPLE_ITEMS,
    all_items,
    api_event,
    body_of,
    given_confirmed,
    load_handler,
    sample_event,
)
from tests.support.breakers import breaker_counts
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sealing import FakeSealer

ORDER_ID = sample_event("get_order_details")["pathParameters"]["orderId"]
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
MINIMUM_CALLS = 3  # >= 50% failed of >= 3 calls opens a part's breaker
FUNCTIONS = {
    "GetCustomerProfileFunction": (
        "get_customer_profile",
        "CUSTOMERS_TABLE_NAME",
        "CustomersTable",
    ),
    "GetPaymentFunction": ("get_payment", "PAYMENTS_TABLE_NAME", "PaymentsTable"),
    "GetShipmentFunction": ("get_shipment", "SHIPPING_TABLE_NAME", "ShippingTable"),
}
ADDRESS = {"line1": "12 Analytical Row", "city": "London", "postalCode": "NW1 6XE", "country": "GB"}


class InProcessLambda:
    """Lambda's Invoke (RequestResponse), answered by the query handlers in this process."""

    def __init__(self, handlers: dict[str, ModuleType]) -> None:
        self.handlers = handlers
        self.invoked: list[str] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        self.invoked.append(FunctionName)
        response: dict[str, Any] = {"StatusCode": 200}
        try:
            body = self.handlers[FunctionName].handler(json.loads(Payload), FakeLambdaContext())
        except Exception as error:  # what Lambda reports for an unhandled exception
            body = {"errorType": type(error).__name__, "errorMessage": str(error)}
            response["FunctionError"] = "Unhandled"
        raw = json.dumps(body).encode()
        response["Payload"] = StreamingBody(io.BytesIO(raw), len(raw))
        return response


class World:
    def __init__(self, tables: dict[str, Any], details: ModuleType, lambda_: InProcessLambda):
        self.tables = tables
        self.details = details
        self.lambda_ = lambda_
        self.store = DynamoDBOrderEventStore("OrdersTable", table=tables["OrdersTable"])

    def get(self, **changes: Any) -> tuple[int, Any]:
        response = self.details.handler(
            api_event("get_order_details", **changes), FakeLambdaContext()
        )
        return response["statusCode"], body_of(response)

    def breaker(self, name: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            self.tables["OrdersTable"]
            .get_item(Key={"pk": f"BREAKER#{name}", "sk": "BREAKER"}, ConsistentRead=True)
            .get("Item")
        )
        return item

    def order_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.tables["OrdersTable"].query(
            KeyConditionExpression=Key("pk").eq(f"ORDER#{ORDER_ID}"), ConsistentRead=True
        )["Items"]
        return items

    # ------------------------------------------------------------ givens

    def given_confirmed_order(self) -> None:
        given_confirmed(self.store, T0, order_id=ORDER_ID, shipping_address=ADDRESS)

    def given_registered_customer(self) -> None:
        request = RegisterCustomerRequest.model_validate(
            {"name": "Ada Lovelace", "email": "ada@example.com", "address": ADDRESS}
        )
        register_customer(
            CUSTOMER,
            request,
            verified_email="ada@example.com",
            repository=DynamoDBCustomersRepository("CustomersTable"),
            sealer=FakeSealer(),  # the event is not read here; the profile is
            correlation_id="corr-0",
            now=T0 - timedelta(days=1),
        )

    def given_charged_payment(self) -> None:
        record = PaymentRecord(
            pk=f"PAYMENT#{ORDER_ID}",
            orderId=ORDER_ID,
            paymentId="ch_1",
            amountCents=3470,
            currency="EUR",
            status="CHARGED",
            chargedAt=T0,
        )
        self.tables["PaymentsTable"].put_item(Item=record.to_item())

    def given_scheduled_shipment(self) -> None:
        shipment = Shipment(
            order_id=ORDER_ID,
            status=ShipmentStatus.SCHEDULED,
            customer_id=CUSTOMER,
            carrier="UPS",
            tracking_id="1Z999AA10123456784",
            address=Address.model_validate(ADDRESS),
            lines=tuple(ShipmentLine.model_validate(line) for line in SAMPLE_ITEMS),
            created_at=T0,
            updated_at=T0,
        )
        self.tables["ShippingTable"].put_item(
            Item=ShipmentItem.from_shipment(shipment).to_dynamodb()
        )


@pytest.fixture
def world(make_table: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> World:
    tables = {
        name: make_table(name)
        for name in ("OrdersTable", "CustomersTable", "PaymentsTable", "ShippingTable")
    }
    handlers = {}
    for function, (module, variable, table) in FUNCTIONS.items():
        monkeypatch.setenv(variable, table)
        sys.modules.pop(module, None)
        handlers[function] = importlib.import_module(module)
    details = load_handler(
        monkeypatch,
        "get_order_details",
        ORDERS_TABLE_NAME="OrdersTable",
        GET_CUSTOMER_PROFILE_FUNCTION_NAME="GetCustomerProfileFunction",
        GET_PAYMENT_FUNCTION_NAME="GetPaymentFunction",
        GET_SHIPMENT_FUNCTION_NAME="GetShipmentFunction",
        SERVICE_CALL_CONNECT_TIMEOUT_SECONDS="1",
        SERVICE_CALL_READ_TIMEOUT_SECONDS="2",
        CIRCUIT_BREAKER_FAILURE_RATE_PERCENT="50",
        CIRCUIT_BREAKER_MINIMUM_CALLS=str(MINIMUM_CALLS),
        CIRCUIT_BREAKER_WINDOW_SECONDS="60",
        CIRCUIT_BREAKER_HALF_OPEN_CALLS="1",
        CIRCUIT_BREAKER_COOLDOWN_SECONDS="30",
        CIRCUIT_BREAKER_CACHE_TTL_SECONDS="0",
    )
    lambda_ = InProcessLambda(handlers)
    services = LambdaOwningServices(
        lambda_,  # type: ignore[arg-type]
        customer_profile_function="GetCustomerProfileFunction",
        payment_function="GetPaymentFunction",
        shipment_function="GetShipmentFunction",
    )
    monkeypatch.setattr(details, "services", services)
    return World(tables, details, lambda_)


def test_a_confirmed_orders_details_show_all_four_parts(world: World) -> None:
    # Given a confirmed order whose customer registered, whose payment was charged and whose
    # shipment was scheduled
    world.given_confirmed_order()
    world.given_registered_customer()
    world.given_charged_payment()
    world.given_scheduled_shipment()
    before = {name: all_items(table) for name, table in world.tables.items()}

    # When its owner asks for its details, twice
    first = world.get()
    second = world.get()

    # Then 200 with the order as GET /orders/{id} shows it and each service's part
    status, body = first
    assert second == first
    assert status == 200
    order = get_order(ORDER_ID, customer_id=CUSTOMER, as_of=None, store=world.store)
    assert body == {
        "order": json.loads(order.model_dump_json()),
        "customer": {
            "customerId": CUSTOMER,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "address": {**ADDRESS, "line2": None},
        },
        "payment": {
            "paymentId": "ch_1",
            "amountCents": 3470,
            "currency": "EUR",
            "status": "CHARGED",
        },
        "shipment": {
            "status": "SCHEDULED",
            "carrier": "UPS",
            "trackingId": "1Z999AA10123456784",
            "country": "GB",
        },
    }
    assert body["order"]["status"] == "CONFIRMED"
    # And each service was asked once per request; no table changed but for the breakers'
    # counts in OrdersTable (two calls each, none failed)
    assert sorted(world.lambda_.invoked) == sorted(list(FUNCTIONS) * 2)
    after = {name: all_items(table) for name, table in world.tables.items()}
    breakers = [i for i in after["OrdersTable"] if i["pk"].startswith("BREAKER#")]
    after["OrdersTable"] = [i for i in after["OrdersTable"] if i not in breakers]
    assert after == before
    assert {i["name"]: (i["state"], breaker_counts(i)) for i in breakers} == {
        name: ("CLOSED", (2, 0)) for name in ("customers", "payments", "shipping")
    }


def test_an_order_with_nothing_elsewhere_shows_none_parts(world: World) -> None:
    # Given a confirmed order, but no profile, no payment record and no shipment anywhere
    world.given_confirmed_order()

    # When its owner asks for its details
    status, body = world.get()

    # Then 200, and each part says its service has nothing
    assert status == 200
    assert (body["customer"], body["payment"], body["shipment"]) == (
        {"status": "none"},
        {"status": "none"},
        {"status": "none"},
    )


def test_a_service_that_fails_is_unavailable_and_its_breaker_opens_in_orders_table(
    world: World,
) -> None:
    # Given a confirmed order with all its parts, and then the shipping table is gone
    world.given_confirmed_order()
    world.given_registered_customer()
    world.given_charged_payment()
    world.given_scheduled_shipment()
    _, healthy = world.get()
    boto3.client("dynamodb").delete_table(TableName="ShippingTable")
    order_before = world.order_items()

    # When the owner asks for the details
    status, body = world.get()

    # Then still 200: the shipment is unavailable, the other parts are what they were
    assert status == 200
    assert body == {**healthy, "shipment": {"status": "unavailable"}}
    # And the shipping breaker (BREAKER#shipping, sk BREAKER, in OrdersTable) counted it: two
    # calls, one failed (below the minimum of 3 calls, still closed); the others' two successes
    shipping = world.breaker("shipping")
    assert shipping is not None
    assert (shipping["itemType"], shipping["state"], breaker_counts(shipping)) == (
        "BREAKER",
        "CLOSED",
        (2, 1),
    )
    for part in ("customers", "payments"):
        other = world.breaker(part)
        assert other is not None
        assert (other["state"], breaker_counts(other)) == ("CLOSED", (2, 0))

    # When it fails again (2 of 3 calls failed: open), and then the owner asks twice more
    assert world.get() == (200, body)
    shipment_calls = world.lambda_.invoked.count("GetShipmentFunction")
    assert world.get() == world.get() == (200, body)

    # Then the breaker is open and GetShipment was not called any more; the others were
    shipping = world.breaker("shipping")
    assert shipping is not None
    assert shipping["state"] == "OPEN"
    assert world.lambda_.invoked.count("GetShipmentFunction") == shipment_calls
    assert world.lambda_.invoked[-4:].count("GetPaymentFunction") == 2
    # And the order's own history is untouched
    assert world.order_items() == order_before


def test_another_customers_order_and_a_missing_one_are_the_same_404(world: World) -> None:
    # Given someone's confirmed order
    world.given_confirmed_order()
    missing = "00000000-0000-4000-8000-000000000000"

    # When another customer asks for its details, and the owner for an order that does not exist
    theirs = world.get(sub=OTHER_CUSTOMER)
    nothing = world.get(path=f"/orders/{missing}/details", path_parameters={"orderId": missing})

    # Then both are the same 404, never a partial answer, and no service was asked
    assert theirs == nothing == (404, {"message": "No such order", "code": "NOT_FOUND"})
    assert world.lambda_.invoked == []


@pytest.mark.parametrize("order_id", ["not-a-uuid", "7d1f3c2a", "' OR '1'='1"])
def test_a_malformed_order_id_is_400(world: World, order_id: str) -> None:
    status, body = world.get(
        path=f"/orders/{order_id}/details", path_parameters={"orderId": order_id}
    )

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert world.lambda_.invoked == []
