"""What every end-to-end module shares; each module starts its own localcloud (`cloud`)."""

from __future__ import annotations

import pytest

from tests.support.localcloud_process import RunningLocalCloud
from tests.support.shop import Client


@pytest.fixture(scope="module")
def admin(cloud: RunningLocalCloud) -> Client:
    """The shop's API as an admin (Cognito group `admin`) of this module's localcloud."""
    return Client(cloud, cloud.token("e2e-admin", admin=True))
