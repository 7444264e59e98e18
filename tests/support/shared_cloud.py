"""One localcloud for the test modules that would each start it with the same settings.

Starting localcloud costs seconds (the template provisioned, then every function's first
invocation a cold start), so modules that need nothing but the shop as `make run` has it share
one. Each shared localcloud is a fixture of tests/conftest.py, and the modules that use it carry
its xdist group, so one xdist worker runs them one after the other:

- `shop_cloud` (group SHOP_GROUP): the console's browser tests, order_flow, admin_mfa,
  ownership and traces. Their tests assert only about what they created themselves (their own
  customers, products, orders, users, traces), never about a whole table or queue.
- `lifecycle_cloud` (group LIFECYCLE_GROUP): order_lifecycle and order_list, which do look at
  whole tables and queues (every NEEDS_ATTENTION order has its case on OperatorQueue; a rebuild
  of OrderSummariesTable from OrdersTable changes nothing; no dead letter), as anything the
  shop does must leave them. They are kept apart from order_flow's run of every function with
  its sample event (made-up orders and events) and the console's redriven dead letter.

Both have the saga's short retries (SAGA_OVERRIDES) and the per-client limits far away
(ROOMY_CLIENT_LIMITS: modules that run one after the other against one stage would otherwise
meet WAF's limit per IP, which test_waf.py and test_client_limits.py test on their own).

A shared localcloud is stopped as soon as the next test to run does not use it (or there is
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
    from collections.abc import Iterable

    import pytest

SHARED_SETTINGS = {**SAGA_OVERRIDES, **ROOMY_CLIENT_LIMITS}
SHOP_GROUP = "localcloud-shop"
LIFECYCLE_GROUP = "localcloud-lifecycle"


class SharedClouds:
    """The running shared localclouds, by the name of the fixture that gives them."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[RunningLocalCloud, ExitStack]] = {}

    def get(self, fixture: str, tmp_path_factory: pytest.TempPathFactory) -> RunningLocalCloud:
        if fixture not in self._running:
            stack = ExitStack()
            cloud = stack.enter_context(
                localcloud_process(tmp_path_factory.mktemp(fixture), overrides=SHARED_SETTINGS)
            )
            self._running[fixture] = (cloud, stack)
        return self._running[fixture][0]

    def stop_unused(self, next_fixtures: Iterable[str] | None) -> None:
        """Stop every shared localcloud the next test (None: no next test) does not use."""
        needed = set(next_fixtures or ())
        for fixture in list(self._running):
            if fixture not in needed:
                _, stack = self._running.pop(fixture)
                stack.close()


SHARED_CLOUDS = SharedClouds()
