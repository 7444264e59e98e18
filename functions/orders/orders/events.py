"""The events the orders service publishes (docs/contracts.md, "The event catalog").

Orders are event-sourced: these are the events of the order's event store, which the orders
stream relays to the bus. `EVENT_MODELS` (detail-type -> model of the event's `data`) is
`models.DATA_MODELS`, the one map the logic builds and reads its events with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orders.models import DATA_MODELS, ORDER_SOURCE

if TYPE_CHECKING:
    from pydantic import BaseModel

SOURCE = ORDER_SOURCE

EVENT_MODELS: dict[str, type[BaseModel]] = {
    detail_type: model for detail_type, model in DATA_MODELS.items()
}

# The orders read model (project_order_summary, fed by OrderSummariesRule) reads every order
# event with these same models: the fold that builds the order builds its summary too.
CONSUMED_EVENTS: dict[str, type[BaseModel]] = dict(EVENT_MODELS)
