"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.cloudformation.tables import create_table
from tests.support.lambda_context import FakeLambdaContext
from tests.support.service_harness import load_sample
from tests.support.template import resource

# In-process tests never reach AWS: fixed fake credentials and region.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Shop")
os.environ.setdefault("POWERTOOLS_DEV", "false")


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS for integration tests of one handler."""
    with mock_aws():
        yield


@pytest.fixture
def make_table(aws: None) -> Any:
    """Create a table exactly as template.yaml declares it: make_table("OrdersTable")."""

    def _make(logical_id: str, table_name: str | None = None) -> Any:
        name = table_name or logical_id
        create_table(boto3.client("dynamodb"), name, resource(logical_id)["Properties"])
        return boto3.resource("dynamodb").Table(name)

    return _make


@pytest.fixture
def sample_event() -> Any:
    """load(name): a copy of events/<name>.json, the sample event of one function."""
    return load_sample
