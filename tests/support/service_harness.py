"""One service's handlers in-process on moto: the table as template.yaml declares it, the
environment its settings read at import, and the handler modules imported after it."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.cloudformation.tables import create_table
from tests.support.template import ROOT, resource


@contextmanager
def handlers_on_moto(
    table_name: str, environment: Mapping[str, str], handlers: Iterable[str]
) -> Iterator[tuple[Any, dict[str, ModuleType]]]:
    """(the table, handler modules by name), inside one moto. Meant for a module-scoped
    fixture: creating clients and a table per test costs about 0.5 s."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name, value in environment.items():
            env.setenv(name, value)
        create_table(boto3.client("dynamodb"), table_name, resource(table_name)["Properties"])
        modules = {}
        for name in handlers:
            sys.modules.pop(name, None)  # settings and clients are read at import
            modules[name] = importlib.import_module(name)
        yield boto3.resource("dynamodb").Table(table_name), modules


def empty_table(table: Any) -> None:
    """Delete every item of a table whose key is `pk`."""
    with table.batch_writer() as batch:
        for item in table.scan(ProjectionExpression="pk")["Items"]:
            batch.delete_item(Key={"pk": item["pk"]})


def load_sample(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json, the sample event of one function."""
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return copy.deepcopy(event)
