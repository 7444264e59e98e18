"""The console's browser tests: one headless chromium for the whole module, on the localcloud the
modules of xdist group SHOP_GROUP share (tests/support/shared_cloud.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.console_browser import Console, chromium, chromium_binaries
from tests.support.localcloud_process import RunningLocalCloud
from tests.support.shop import Client

NOT_INSTALLED = (
    "chromium and chromium-driver are not installed, so the console's browser tests can't run: "
    "`make test` installs them with apt-get where it can (root on Debian); elsewhere run "
    "`apt-get install -y chromium chromium-driver`, or set CHROMIUM and CHROMEDRIVER"
)


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


@pytest.fixture(scope="module")
def admin(cloud: RunningLocalCloud) -> Client:
    return Client(cloud, cloud.token("console-admin", admin=True))


@pytest.fixture(scope="module")
def console(cloud: RunningLocalCloud) -> Iterator[Console]:
    binaries = chromium_binaries()
    assert binaries is not None, NOT_INSTALLED  # the modules skip first (skip_without_chromium)
    with chromium(*binaries) as driver:
        yield Console(driver, cloud.aws_url)


# Each module of tests/browser carries this mark: skipped, with the reason, before any
# localcloud is started, where the browser is missing.
skip_without_chromium = pytest.mark.skipif(chromium_binaries() is None, reason=NOT_INSTALLED)
