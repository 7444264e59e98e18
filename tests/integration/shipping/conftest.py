"""Shipping handlers called in-process on moto, with the table template.yaml declares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.sealing import (
    CUSTOMER_DATA_KEY_ALIAS,
    customer_data_key,
    sealed_for_customer,
    sealed_for_order,
)
from tests.support.service_harness import empty_table, handlers_on_moto

TABLE_NAME = "ShippingTable"
HANDLERS = ("schedule_shipment", "cancel_shipment", "record_customer_address")


class ShippingState:
    """What the shipping table holds, read back for the Then of each test."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def items(self) -> dict[str, dict[str, Any]]:
        """Every item, by pk."""
        return {item["pk"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}

    def of_kind(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {pk: item for pk, item in self.items().items() if pk.startswith(prefix)}

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """The events written to the outbox as (detail-type, data), oldest first."""
        events = []
        for pk, item in self.of_kind("EVENT#").items():
            detail = json.loads(item["detail"])
            assert item["itemType"] == "EVENT"
            assert item["source"] == "shop.shipping"
            assert item["eventId"] == detail["metadata"]["eventId"] == pk.removeprefix("EVENT#")
            assert detail["metadata"]["producer"] == "shipping"
            assert item["expiresAt"] > 0
            events.append((item["occurredAt"], item["detailType"], detail["data"]))
        return [(detail_type, data) for _, detail_type, data in sorted(events)]

    def idempotency_records(self) -> list[dict[str, Any]]:
        """Powertools Idempotency's records (keyed `<function>#<hash of the eventId>`)."""
        kinds = ("SHIPMENT#", "ADDRESS#", "EVENT#")
        return [item for pk, item in self.items().items() if not pk.startswith(kinds)]


@pytest.fixture(scope="module")
def _shipping_cloud() -> Iterator[tuple[Any, dict[str, ModuleType]]]:
    """One moto, one ShippingTable (as template.yaml declares it) and the handler modules per
    test module. Settings and clients are read when a handler module is imported, so the
    environment is set first."""
    environment = {
        "SHIPPING_TABLE_NAME": TABLE_NAME,
        "CUSTOMER_DATA_KEY_ID": CUSTOMER_DATA_KEY_ALIAS,
        "POWERTOOLS_SERVICE_NAME": "shipping",
    }
    with handlers_on_moto(TABLE_NAME, environment, HANDLERS) as cloud:
        customer_data_key()
        yield cloud


@pytest.fixture
def shipping(_shipping_cloud: tuple[Any, dict[str, ModuleType]]) -> ShippingState:
    """The shipping table, empty at the start of each test."""
    table, _ = _shipping_cloud
    empty_table(table)
    return ShippingState(table)


@pytest.fixture
def schedule_shipment(_shipping_cloud: Any, shipping: ShippingState) -> ModuleType:
    return _shipping_cloud[1]["schedule_shipment"]


@pytest.fixture
def cancel_shipment(_shipping_cloud: Any, shipping: ShippingState) -> ModuleType:
    return _shipping_cloud[1]["cancel_shipment"]


@pytest.fixture
def record_customer_address(_shipping_cloud: Any, shipping: ShippingState) -> ModuleType:
    return _shipping_cloud[1]["record_customer_address"]


# What the samples' placeholder ciphertexts stand for (KMS keys are made per run, so the tests
# seal it again with this moto's customer-data key).
SAMPLE_ADDRESS = {
    "line1": "12 Analytical Row",
    "line2": "Flat 3",
    "city": "London",
    "postalCode": "NW1 6XE",
    "country": "GB",
}


@pytest.fixture
def sample_event(sample_event: Any) -> Any:
    """The samples of ScheduleShipment and RecordCustomerAddress with SAMPLE_ADDRESS sealed as
    their producers seal it (for the order, for the customer)."""

    def load(name: str) -> Any:
        event = sample_event(name)
        if name == "schedule_shipment":
            event["shippingAddressCiphertext"] = sealed_for_order(event["orderId"], SAMPLE_ADDRESS)
        elif name == "record_customer_address":
            for record in event["Records"]:
                body = json.loads(record["body"])
                data = body["detail"]["data"]
                data["addressCiphertext"] = sealed_for_customer(data["customerId"], SAMPLE_ADDRESS)
                record["body"] = json.dumps(body)
        return event

    return load
