"""payments: charge an order (twice: one charge) and refund it, through the real logic and
DynamoDB repository on moto, with the unit tests' fake payment provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from payments.logic import charge_payment, refund_payment
from payments.models import ChargePaymentInput, RefundPaymentInput
from payments.repository import DynamoDBPaymentRepository
from tests.contract.producers import outbox_items, template_table
from tests.unit.payments.payments_fakes import FakeProvider, fake_open, fake_seal

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"


def run() -> list[dict[str, Any]]:
    with mock_aws():
        table = template_table("PaymentsTable")
        payments = DynamoDBPaymentRepository(table.name)
        provider = FakeProvider()
        charge = ChargePaymentInput.model_validate(
            {
                "orderId": ORDER_ID,
                "correlationId": "contract-payments",
                "paymentTokenCiphertext": fake_seal("tok_visa", ORDER_ID),
                "reservation": {"totalCents": 3480, "currency": "EUR"},
            }
        )
        for _ in range(2):
            charge_payment(
                charge,
                payments=payments,
                provider=provider,
                clock=lambda: NOW,
                open_token=fake_open,
            )
        refund_payment(
            RefundPaymentInput(orderId=ORDER_ID, correlationId="contract-payments"),
            payments=payments,
            provider=provider,
            clock=lambda: NOW + timedelta(minutes=1),
        )
        return outbox_items(table)
