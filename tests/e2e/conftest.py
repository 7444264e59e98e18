"""What every end-to-end module shares. Each module's `cloud` is a localcloud of its own, or the
one the modules of xdist group SHOP_GROUP share (tests/support/shared_cloud.py)."""

from __future__ import annotations

import pytest

from tests.support.localcloud_process import RunningLocalCloud
from tests.support.shop import Client


@pytest.fixture(scope="module")
def admin(cloud: RunningLocalCloud) -> Client:
    """The shop's API as an admin (Cognito group `admin`) of this module's localcloud."""
    return Client(cloud, cloud.token("e2e-admin", admin=True))
