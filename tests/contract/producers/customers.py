"""customers: a registration through the real logic and DynamoDB repository, on moto."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto import mock_aws

from customers.logic import register_customer
from customers.models import RegisterCustomerRequest
from customers.repository import DynamoDBCustomersRepository
from shop_shared.sealing import KmsSealer
from tests.contract.producers import outbox_items, template_table
from tests.support.sealing import customer_data_key

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def run() -> list[dict[str, Any]]:
    with mock_aws():
        table = template_table("CustomersTable")
        request = RegisterCustomerRequest.model_validate(
            {
                "name": "Alice Example",
                "email": "alice@example.com",
                "address": {
                    "line1": "1 Main St",
                    "city": "Berlin",
                    "postalCode": "10115",
                    "country": "DE",
                },
            }
        )
        register_customer(
            "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d",
            request,
            verified_email="alice@example.com",
            repository=DynamoDBCustomersRepository(table.name),
            sealer=KmsSealer(customer_data_key()),
            correlation_id="contract-customers",
            now=NOW,
        )
        return outbox_items(table)
