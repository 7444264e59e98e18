"""The customers service's errors."""

from __future__ import annotations

from shop_shared.errors import Conflict


class CustomerExists(Conflict):
    """This user has registered already; a profile is created once."""

    code = "CUSTOMER_EXISTS"
