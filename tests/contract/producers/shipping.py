"""shipping: schedule an order's shipment (twice: one shipment) and cancel it (twice: one
cancellation), through the real logic and DynamoDB repository, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from shipping.logic import cancel_shipment, schedule_shipment
from shipping.models import CancelShipmentInput, ScheduleShipmentInput
from shipping.repository import DynamoDBShippingRepository
from shop_shared.sealing import KmsOpener
from tests.contract.producers import outbox_items, template_table
from tests.support.sealing import customer_data_key, sealed_for_order

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
CORRELATION = "contract-shipping"


def run() -> list[dict[str, Any]]:
    with mock_aws():
        table = template_table("ShippingTable")
        repository = DynamoDBShippingRepository(table.name)
        schedule = ScheduleShipmentInput.model_validate(
            {
                "orderId": ORDER_ID,
                "correlationId": CORRELATION,
                "customerId": "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d",
                "items": [{"sku": "ESPRESSO-250G", "quantity": 2}],
                "shippingAddressCiphertext": sealed_for_order(
                    ORDER_ID,
                    {
                        "line1": "1 Main St",
                        "city": "Berlin",
                        "postalCode": "10115",
                        "country": "DE",
                    },
                ),
            }
        )
        opener = KmsOpener(customer_data_key())
        for _ in range(2):
            schedule_shipment(
                schedule,
                repository=repository,
                opener=opener,
                clock=lambda: NOW,
                new_id=lambda: "TRACK0001",
            )
        cancel = CancelShipmentInput(orderId=ORDER_ID, correlationId=CORRELATION)
        for _ in range(2):
            cancel_shipment(cancel, repository=repository, clock=lambda: NOW + timedelta(hours=1))
        return outbox_items(table)
