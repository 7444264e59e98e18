"""orders: every transition of the order aggregate through the real logic and DynamoDB event
store, on moto. One order is placed, confirmed (twice: one event), cancelled by its owner and
marked cancelled; one is rejected; one needs attention after a failed compensation."""

from __future__ import annotations

from typing import Any

from moto import mock_aws

from orders.logic import (
    confirm_order,
    mark_order_cancelled,
    mark_order_needs_attention,
    place_order,
    reject_order,
    request_cancellation,
)
from orders.models import (
    ConfirmOrderInput,
    MarkOrderCancelledInput,
    MarkOrderNeedsAttentionInput,
    PlaceOrder,
    PlaceOrderRequest,
    RejectOrderInput,
)
from orders.repository import DynamoDBOrderEventStore
from tests.contract.producers import outbox_items, template_table
from tests.support.sealing import FakeSealer
from tests.unit.orders.orders_fakes import CUSTOMER, TickingClock, fake_seal, sequential_ids

CONFIRMED = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
REJECTED = "0c9b8a7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
STUCK = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
CORRELATION = "contract-orders"


def run() -> list[dict[str, Any]]:
    with mock_aws():
        table = template_table("OrdersTable")
        store = DynamoDBOrderEventStore(table.name)
        clock = TickingClock()
        request = PlaceOrderRequest.model_validate(
            {
                "items": [{"sku": "ESPRESSO-250G", "quantity": 2}],
                "paymentToken": "tok_visa",
                "shippingAddress": {
                    "line1": "1 Main St",
                    "city": "Berlin",
                    "postalCode": "10115",
                    "country": "DE",
                },
            }
        )
        for order_id in (CONFIRMED, REJECTED, STUCK):
            place_order(
                PlaceOrder(customerId=CUSTOMER, correlationId=CORRELATION, request=request),
                store=store,
                clock=clock,
                new_id=sequential_ids(order_id),
                seal=fake_seal,
                address_sealer=FakeSealer(),
            )

        confirm = ConfirmOrderInput.model_validate(
            {
                "orderId": CONFIRMED,
                "correlationId": CORRELATION,
                "reservation": {"totalCents": 2580, "currency": "EUR"},
                "payment": {"paymentId": "ch_1", "amountCents": 2580, "currency": "EUR"},
            }
        )
        for _ in range(2):
            confirm_order(confirm, store=store, clock=clock)
        request_cancellation(
            CONFIRMED, customer_id=CUSTOMER, correlation_id=CORRELATION, store=store, clock=clock
        )
        mark_order_cancelled(
            MarkOrderCancelledInput(orderId=CONFIRMED, correlationId=CORRELATION),
            store=store,
            clock=clock,
        )

        reject = RejectOrderInput.model_validate(
            {
                "orderId": REJECTED,
                "correlationId": CORRELATION,
                "error": {"Error": "PaymentDeclined", "Cause": '{"errorMessage": "declined"}'},
            }
        )
        reject_order(reject, store=store, clock=clock)

        stuck = MarkOrderNeedsAttentionInput.model_validate(
            {
                "orderId": STUCK,
                "correlationId": CORRELATION,
                "customerId": CUSTOMER,
                "compensationErrors": {
                    "RefundPayment": {
                        "Error": "PaymentProviderUnavailable",
                        "Cause": '{"errorMessage": "The payment provider is unavailable"}',
                    }
                },
            }
        )
        mark_order_needs_attention(stuck, store=store, clock=clock)
        return outbox_items(table)
