"""The owning services' query functions as orders calls them: the Lambda Invoke, its timeouts
(no retries), and how a function error or an unreadable answer is read."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from orders.details.clients import LambdaOwningServices, lambda_client
from orders.details.errors import OwningServiceFailed
from orders.details.models import CustomerProfileQuery, PaymentQuery, ShipmentQuery
from orders.details.settings import OrderDetailsSettings
from shop_shared.circuit_breaker import is_transient_failure
from tests.unit.orders.orders_fakes import CUSTOMER, ORDER_ID

ENVIRONMENT = {
    "ORDERS_TABLE_NAME": "OrdersTable",
    "GET_CUSTOMER_PROFILE_FUNCTION_NAME": "GetCustomerProfileFunction",
    "GET_PAYMENT_FUNCTION_NAME": "GetPaymentFunction",
    "GET_SHIPMENT_FUNCTION_NAME": "GetShipmentFunction",
    "SERVICE_CALL_CONNECT_TIMEOUT_SECONDS": "1",
    "SERVICE_CALL_READ_TIMEOUT_SECONDS": "0.3",
    "CIRCUIT_BREAKER_FAILURE_RATE_PERCENT": "50",
    "CIRCUIT_BREAKER_MINIMUM_CALLS": "5",
    "CIRCUIT_BREAKER_WINDOW_SECONDS": "60",
    "CIRCUIT_BREAKER_HALF_OPEN_CALLS": "1",
    "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "30",
    "CIRCUIT_BREAKER_CACHE_TTL_SECONDS": "1",
}
SETTINGS = OrderDetailsSettings.model_validate(ENVIRONMENT)


def payload(body: Any) -> StreamingBody:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def stubbed() -> Iterator[tuple[LambdaOwningServices, Stubber]]:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stubber:
        services = LambdaOwningServices(
            client,
            customer_profile_function="GetCustomerProfileFunction",
            payment_function="GetPaymentFunction",
            shipment_function="GetShipmentFunction",
        )
        yield services, stubber
        stubber.assert_no_pending_responses()


def test_each_query_invokes_its_services_function_and_reads_the_answer(
    stubbed: tuple[LambdaOwningServices, Stubber],
) -> None:
    services, stubber = stubbed
    profile = {
        "customerId": CUSTOMER,
        "name": "Ada",
        "email": "ada@example.com",
        "address": {"line1": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
    }
    # Given each function answers (the payments one with a field orders does not know yet)
    for function, query, body in (
        (
            "GetCustomerProfileFunction",
            {"customerId": CUSTOMER, "correlationId": "c-1"},
            {"customerId": CUSTOMER, "found": True, "profile": profile},
        ),
        (
            "GetPaymentFunction",
            {"orderId": ORDER_ID, "correlationId": "c-1"},
            {"orderId": ORDER_ID, "found": False, "payment": None, "addedLater": 1},
        ),
        (
            "GetShipmentFunction",
            {"orderId": ORDER_ID, "correlationId": "c-1"},
            {
                "orderId": ORDER_ID,
                "found": True,
                "shipment": {
                    "status": "SCHEDULED",
                    "carrier": "DHL",
                    "trackingId": "T1",
                    "country": "DE",
                },
            },
        ),
    ):
        stubber.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": payload(body)},
            {
                "FunctionName": function,
                "InvocationType": "RequestResponse",
                "Payload": json.dumps(query, separators=(",", ":")).encode(),
            },
        )

    # When orders asks each of them
    customer = services.customer_profile(
        CustomerProfileQuery(customerId=CUSTOMER, correlationId="c-1")
    )
    payment = services.payment(PaymentQuery(orderId=ORDER_ID, correlationId="c-1"))
    shipment = services.shipment(ShipmentQuery(orderId=ORDER_ID, correlationId="c-1"))

    # Then it reads their answers with its own models
    assert customer.found
    assert customer.profile is not None
    assert customer.profile.model_dump()["address"]["line2"] is None
    assert (payment.found, payment.payment) == (False, None)
    assert shipment.shipment is not None
    assert shipment.shipment.trackingId == "T1"


def test_a_function_error_is_a_transient_failure_naming_only_the_error_type(
    stubbed: tuple[LambdaOwningServices, Stubber],
) -> None:
    services, stubber = stubbed
    # Given GetShipment fails (its table is gone)
    stubber.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": payload(
                {"errorType": "ResourceNotFoundException", "errorMessage": "secret details"}
            ),
        },
    )

    # When orders asks it; Then OwningServiceFailed, which the breaker counts
    with pytest.raises(OwningServiceFailed) as raised:
        services.shipment(ShipmentQuery(orderId=ORDER_ID, correlationId="c-1"))
    assert raised.value.context == {
        "function": "GetShipmentFunction",
        "error_type": "ResourceNotFoundException",
    }
    assert "secret details" not in str(raised.value)
    assert is_transient_failure(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        {"orderId": ORDER_ID},  # no `found`
        {"orderId": ORDER_ID, "found": True, "payment": None},  # found, but nothing carried
        {"orderId": ORDER_ID, "found": False, "payment": {"paymentId": "ch_1"}},
        {"orderId": ORDER_ID, "found": True, "payment": {"paymentId": "ch_1", "amountCents": -5}},
    ],
    ids=["not JSON", "no found", "found nothing", "not found but carried", "bad amount"],
)
def test_an_answer_orders_cannot_read_is_a_transient_failure(
    stubbed: tuple[LambdaOwningServices, Stubber], body: Any
) -> None:
    services, stubber = stubbed
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": payload(body)})

    with pytest.raises(OwningServiceFailed) as raised:
        services.payment(PaymentQuery(orderId=ORDER_ID, correlationId="c-1"))
    assert is_transient_failure(raised.value)


# ---------------------------------------------------------------- timeouts, no retries


class SlowLambda(BaseHTTPRequestHandler):
    """A Lambda endpoint that answers only after a second; counts the requests it gets."""

    requests: list[str] = []

    def do_POST(self) -> None:
        SlowLambda.requests.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(1.0)
        body = b'{"orderId": "x", "found": false}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first: what the test expects

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    SlowLambda.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowLambda)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.shutdown()
    server.server_close()


def test_a_slow_function_times_out_after_the_read_timeout_and_is_not_retried(
    slow_lambda: str,
) -> None:
    # Given the details' Lambda client (read timeout 0.3 s) and a function that takes 1 s
    client = lambda_client(SETTINGS)
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1, 0.3)
    services = LambdaOwningServices(
        client,
        customer_profile_function="GetCustomerProfileFunction",
        payment_function="GetPaymentFunction",
        shipment_function="GetShipmentFunction",
    )

    # When orders asks it
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError) as raised:
        services.payment(PaymentQuery(orderId=ORDER_ID, correlationId="c-1"))
    took = time.monotonic() - started

    # Then it gives up after the read timeout, having asked once (no retry), and the breaker
    # would count it
    assert took < 0.9
    assert SlowLambda.requests == ["/2015-03-31/functions/GetPaymentFunction/invocations"]
    assert is_transient_failure(raised.value)


def test_the_deadline_covers_both_timeouts_and_the_breakers_own_calls() -> None:
    assert SETTINGS.parts_deadline_seconds == pytest.approx(1 + 0.3 + 0.5)
