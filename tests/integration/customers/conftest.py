"""Customers handlers called in-process on moto, with the table template.yaml declares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.sealing import CUSTOMER_DATA_KEY_ALIAS, customer_data_key
from tests.support.service_harness import empty_table, handlers_on_moto

TABLE_NAME = "CustomersTable"


class CustomersState:
    """What the customers table holds, read back for the Then of each test."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def items(self) -> dict[str, dict[str, Any]]:
        return {item["pk"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """The events written to the outbox as (detail-type, data)."""
        events = []
        for pk, item in self.items().items():
            if not pk.startswith("EVENT#"):
                continue
            detail = json.loads(item["detail"])
            assert item["itemType"] == "EVENT"
            assert item["source"] == "shop.customers"
            assert item["eventId"] == detail["metadata"]["eventId"] == pk.removeprefix("EVENT#")
            assert detail["metadata"]["producer"] == "customers"
            events.append((item["detailType"], detail["data"]))
        return events


HANDLERS = ("register_customer", "get_customer")


@pytest.fixture(scope="module")
def _customers_cloud() -> Iterator[tuple[Any, dict[str, ModuleType]]]:
    """One moto, one CustomersTable (as template.yaml declares it) and the handler modules per
    test module. Settings and clients are read at import, so the environment is set first."""
    environment = {
        "CUSTOMERS_TABLE_NAME": TABLE_NAME,
        "CUSTOMER_DATA_KEY_ID": CUSTOMER_DATA_KEY_ALIAS,
        "POWERTOOLS_SERVICE_NAME": "customers",
    }
    with handlers_on_moto(TABLE_NAME, environment, HANDLERS) as cloud:
        customer_data_key()
        yield cloud


@pytest.fixture
def customers(_customers_cloud: tuple[Any, dict[str, ModuleType]]) -> CustomersState:
    """The customers table, empty at the start of each test."""
    table, _ = _customers_cloud
    empty_table(table)
    return CustomersState(table)


@pytest.fixture
def register_customer(_customers_cloud: Any, customers: CustomersState) -> ModuleType:
    return _customers_cloud[1]["register_customer"]


@pytest.fixture
def get_customer(_customers_cloud: Any, customers: CustomersState) -> ModuleType:
    return _customers_cloud[1]["get_customer"]
