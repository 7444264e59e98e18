"""The events the customers service publishes (docs/contracts.md, "The event catalog").

`EVENT_MODELS` (detail-type -> model of the event's `data`) is what the schema generator and
the contract tests read; `logic` builds every event it writes from these same models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from customers.models import EVENT_SOURCE, CustomerRegistered

if TYPE_CHECKING:
    from pydantic import BaseModel

SOURCE = EVENT_SOURCE

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "CustomerRegistered": CustomerRegistered,
}
