"""One localcloud for the test modules that would each start it with the same settings.

Starting localcloud costs seconds (the template provisioned, then every function's first
invocation a cold start), so the modules that need nothing but the shop as `make run` has it
(the saga's short retries, the per-client limits far away: SHOP_SETTINGS) share one: each asks
for the `shop_cloud` fixture (tests/conftest.py) and carries `xdist_group(SHOP_GROUP)`, so one
xdist worker runs them one after the other. Their tests assert only about what they created
themselves (their own customers, products, orders, users), never about a whole table.

The shared localcloud is stopped as soon as the next test to run does not use it (or there is
none), so an idle one never runs beside the rest of the session; a module that comes later
after all starts a new one. Correctness never depends on the order tests run in, only the
saving does.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.shop import ROOMY_CLIENT_LIMITS, SAGA_OVERRIDES

if TYPE_CHECKING:
    import pytest

SHOP_FIXTURE = "shop_cloud"
SHOP_GROUP = "localcloud-shop"
SHOP_SETTINGS = {**SAGA_OVERRIDES, **ROOMY_CLIENT_LIMITS}


class SharedClouds:
    """The running shared localclouds, by the name of the fixture that gives them."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[RunningLocalCloud, ExitStack]] = {}

    def get(
        self, fixture: str, overrides: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> RunningLocalCloud:
        if fixture not in self._running:
            stack = ExitStack()
            cloud = stack.enter_context(
                localcloud_process(tmp_path_factory.mktemp(fixture), overrides=overrides)
            )
            self._running[fixture] = (cloud, stack)
        return self._running[fixture][0]

    def stop_unused(self, next_fixtures: list[str] | None) -> None:
        """Stop every shared localcloud the next test (None: no next test) does not use."""
        for fixture in list(self._running):
            if next_fixtures is None or fixture not in next_fixtures:
                _, stack = self._running.pop(fixture)
                stack.close()


SHARED_CLOUDS = SharedClouds()
