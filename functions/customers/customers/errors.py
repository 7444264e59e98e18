"""The customers service's errors."""

from __future__ import annotations

from shop_shared.errors import Conflict, NotFound


class CustomerExists(Conflict):
    """This user has registered already; a profile is created once."""

    code = "CUSTOMER_EXISTS"


class CustomerNotFound(NotFound):
    """The caller has not registered a profile yet (GET /customers/me before POST /customers)."""
