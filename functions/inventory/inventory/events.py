"""The events the inventory service publishes (docs/contracts.md, "The event catalog").

`EVENT_MODELS` (detail-type -> model of the event's `data`) is what the schema generator and
the contract tests read; `logic` builds every event it writes from these same models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inventory.models import EVENT_SOURCE, ProductUpserted, StockReleased, StockReserved

if TYPE_CHECKING:
    from pydantic import BaseModel

SOURCE = EVENT_SOURCE

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "ProductUpserted": ProductUpserted,
    "StockReserved": StockReserved,
    "StockReleased": StockReleased,
}
