"""Orders integration tests: the project's fixtures, with moto keeping boto3's default session,
and the two workflows the starters start."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from moto import mock_aws

from tests.integration.orders.orders_harness import load_handler, pass_state_machine


@pytest.fixture
def aws() -> Iterator[None]:
    """As tests/conftest.py's `aws`, but boto3's default session survives from test to test: a
    fresh session re-reads every service model (~0.3 s per client), which dominated these tests.
    Backends (tables, executions, secrets) are still reset for every test."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def saga_arn(aws: None) -> str:
    return pass_state_machine("OrderSaga")


@pytest.fixture
def cancellation_arn(aws: None) -> str:
    return pass_state_machine("OrderCancellation")


@pytest.fixture
def start_order_workflows(
    monkeypatch: pytest.MonkeyPatch, saga_arn: str, cancellation_arn: str
) -> ModuleType:
    """The one starter of both workflows, from the orders stream."""
    return load_handler(
        monkeypatch,
        "start_order_workflows",
        ORDER_SAGA_STATE_MACHINE_ARN=saga_arn,
        ORDER_CANCELLATION_STATE_MACHINE_ARN=cancellation_arn,
    )
