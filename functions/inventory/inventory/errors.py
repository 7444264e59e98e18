"""The inventory service's errors.

The class name is the `errorType` the saga sees, so business outcomes are named for what
happened. `OutOfStock` is the only business error the saga's Retry/Catch already knows; the
others here are business errors too (retrying them changes nothing).
"""

from __future__ import annotations

from shop_shared.errors import Conflict, NotFound, TransientError, ValidationFailed


class ProductNotFound(NotFound):
    """No product with this SKU in the catalog (GET 404, or an order line naming it)."""


class InvalidCursor(ValidationFailed):
    """A `?cursor=` that is not one GET /products issued (garbage, or tampered with)."""

    code = "INVALID_CURSOR"


class OutOfStock(Conflict):
    code = "OUT_OF_STOCK"


class MixedCurrencies(Conflict):
    """An order's products are priced in different currencies: it cannot have one total."""

    code = "MIXED_CURRENCIES"


class ReservationReleased(Conflict):
    """ReserveStock arrived after ReleaseStock for the same order (a late duplicate).

    The order's stock was given back, or the compensation ran before any reservation existed
    and left a tombstone; reserving now would hold stock no compensation will ever release.
    """

    code = "RESERVATION_RELEASED"


class ReservationExists(Conflict):
    """The repository refused to create a reservation because one exists (a concurrent twin)."""

    code = "RESERVATION_EXISTS"


class ReservationNotReserved(Conflict):
    """The repository refused to release a reservation that is no longer RESERVED."""

    code = "RESERVATION_NOT_RESERVED"


class ProductChanged(Conflict):
    """The product was created or changed between reading and writing it."""

    code = "PRODUCT_CHANGED"


class ConcurrentModification(TransientError):
    """Still contended after a few attempts; worth retrying later."""

    code = "CONCURRENT_MODIFICATION"
