"""Customers handlers called in-process on moto, with the table template.yaml declares."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.tables import create_table
from tests.support.template import ROOT, resource

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
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("CUSTOMERS_TABLE_NAME", TABLE_NAME)
        env.setenv("POWERTOOLS_SERVICE_NAME", "customers")
        create_table(boto3.client("dynamodb"), TABLE_NAME, resource(TABLE_NAME)["Properties"])
        modules = {}
        for name in HANDLERS:
            sys.modules.pop(name, None)
            modules[name] = importlib.import_module(name)
        yield boto3.resource("dynamodb").Table(TABLE_NAME), modules


@pytest.fixture
def customers(_customers_cloud: tuple[Any, dict[str, ModuleType]]) -> CustomersState:
    """The customers table, empty at the start of each test."""
    table, _ = _customers_cloud
    with table.batch_writer() as batch:
        for item in table.scan(ProjectionExpression="pk")["Items"]:
            batch.delete_item(Key={"pk": item["pk"]})
    return CustomersState(table)


@pytest.fixture
def register_customer(_customers_cloud: Any, customers: CustomersState) -> ModuleType:
    return _customers_cloud[1]["register_customer"]


@pytest.fixture
def get_customer(_customers_cloud: Any, customers: CustomersState) -> ModuleType:
    return _customers_cloud[1]["get_customer"]


def load_sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


@pytest.fixture
def sample_event() -> Any:
    """A copy of events/<name>.json, the sample event of one function."""
    return load_sample
