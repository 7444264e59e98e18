"""The events the shipping service publishes and consumes (docs/contracts.md, "The event catalog").

`EVENT_MODELS` (detail-type -> model of the event's `data`) is what the schema generator and the
contract tests read; `logic` builds every event it writes from these same models.
`CONSUMED_EVENTS` maps each detail-type ShippingRule routes to ShippingQueue to this service's
own model of its `data`, the one `logic` parses it with.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shipping.models import CustomerRegistered
from shop_shared.models import ShopModel

SOURCE = "shop.shipping"
PRODUCER = "shipping"

_Id = Annotated[str, Field(min_length=1, max_length=128)]


class ShipmentScheduled(ShopModel):
    model_config = ConfigDict(frozen=True)

    orderId: _Id
    customerId: _Id
    carrier: _Id
    trackingId: _Id
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class ShipmentCancelled(ShopModel):
    model_config = ConfigDict(frozen=True)

    orderId: _Id
    customerId: _Id
    carrier: _Id
    trackingId: _Id


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "ShipmentScheduled": ShipmentScheduled,
    "ShipmentCancelled": ShipmentCancelled,
}

CONSUMED_EVENTS: dict[str, type[BaseModel]] = {
    "CustomerRegistered": CustomerRegistered,
}
