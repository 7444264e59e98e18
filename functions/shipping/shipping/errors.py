"""The shipping service's errors.

The class name is the `errorType` the saga sees: `ShippingUnavailable` and
`ShipmentAlreadyCancelled` are business outcomes (retrying them changes nothing), so the
saga does not retry them.
"""

from __future__ import annotations

from shop_shared.errors import Conflict, TransientError


class ShippingUnavailable(Conflict):
    """The order can't be shipped: no address is known for it, or we don't serve its country."""

    code = "SHIPPING_UNAVAILABLE"


class ShipmentAlreadyCancelled(Conflict):
    """ScheduleShipment arrived after CancelShipment for the same order (a late duplicate).

    The shipment was cancelled, or the compensation ran before any shipment existed and left a
    tombstone; scheduling now would ship an order whose saga has already been undone.
    """

    code = "SHIPMENT_ALREADY_CANCELLED"


class ShipmentExists(Conflict):
    """The repository refused to create a shipment because the order has one (a concurrent twin)."""

    code = "SHIPMENT_EXISTS"


class ShipmentNotScheduled(Conflict):
    """The repository refused to cancel a shipment that is no longer SCHEDULED."""

    code = "SHIPMENT_NOT_SCHEDULED"


class ConcurrentModification(TransientError):
    """Still contended after a few attempts; worth retrying later."""

    code = "CONCURRENT_MODIFICATION"
