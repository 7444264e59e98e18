"""The console's browser tests: one localcloud and one headless chromium for the whole module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.console_browser import Console, chromium, chromium_binaries
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.shop import SAGA_OVERRIDES, Client

NOT_INSTALLED = (
    "chromium and chromium-driver are not installed, so the console's browser tests can't run: "
    "`make test` installs them with apt-get where it can (root on Debian); elsewhere run "
    "`apt-get install -y chromium chromium-driver`, or set CHROMIUM and CHROMEDRIVER"
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("console"), overrides=SAGA_OVERRIDES
    ) as running:
        yield running


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
