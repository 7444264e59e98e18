"""Orders integration tests: the project's fixtures, with moto keeping boto3's default session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws


@pytest.fixture
def aws() -> Iterator[None]:
    """As tests/conftest.py's `aws`, but boto3's default session survives from test to test: a
    fresh session re-reads every service model (~0.3 s per client), which dominated these tests.
    Backends (tables, executions, secrets) are still reset for every test."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield
