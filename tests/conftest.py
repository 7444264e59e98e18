"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from _pytest.nodeid import NodeId
from moto import mock_aws

from localcloud.cloudformation.tables import create_table
from tests.support.lambda_context import FakeLambdaContext
from tests.support.localcloud_process import RunningLocalCloud, wait_until_stopped
from tests.support.service_harness import load_sample
from tests.support.shared_cloud import SHARED_CLOUDS
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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` as pytest-xdist means it, on pytest 9.2: the xdist worker names each
    test's group in its node id (`...::test_x@localcloud-shop`), which the controller's scheduler
    reads to send a group to one worker as a whole. pytest-xdist 3.8 still writes the group into
    the `_nodeid` field that pytest 9.2's structured node ids no longer read (pytest-xdist#1386;
    the fix, #1388, is not released), so every grouped test went its own way and both workers
    started most modules' localcloud. Only what xdist does itself is done here, and nothing once
    its own suffix takes effect."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers
        return
    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if not groups:
            continue
        suffix = "@" + "_".join(sorted(groups))
        if not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="module")
def shop_cloud(tmp_path_factory: pytest.TempPathFactory) -> RunningLocalCloud:
    """The localcloud the modules of xdist group SHOP_GROUP share (tests/support/shared_cloud)."""
    return SHARED_CLOUDS.get("shop_cloud", tmp_path_factory)


@pytest.fixture(scope="module")
def lifecycle_cloud(tmp_path_factory: pytest.TempPathFactory) -> RunningLocalCloud:
    """The localcloud the modules of xdist group LIFECYCLE_GROUP share (the same settings as
    shop_cloud, but none of what the shop group's modules leave in it)."""
    return SHARED_CLOUDS.get("lifecycle_cloud", tmp_path_factory)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Once this test's fixtures are torn down: stop a shared localcloud the next one won't use."""
    try:
        return (yield)
    finally:
        SHARED_CLOUDS.stop_unused(
            None if nextitem is None else getattr(nextitem, "fixturenames", [])
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """No localcloud outlives the session: the shared ones stopped, every stopping one gone."""
    SHARED_CLOUDS.stop_unused(None)
    wait_until_stopped()
