"""At most N orders per customer per window (issue 11, finding 5): each order holds stock while
its saga runs, so one customer must not be able to place orders without end.

Fixed windows (`window_seconds` long, aligned to the epoch), counted in DynamoDB so the limit
holds across concurrent PlaceOrder instances. The count is taken before the order is written:
a refused request writes nothing else. A replay of an Idempotency-Key never gets here (the
idempotency layer answers it with the first order), so it does not count again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orders.errors import TooManyOrders

if TYPE_CHECKING:
    from datetime import datetime

    from orders.repository import PlacementCounter


@dataclass(frozen=True)
class PlacementLimit:
    limit: int
    window_seconds: int
    counter: PlacementCounter
    clock: Callable[[], datetime]

    def admit(self, customer_id: str) -> None:
        """Count one placement for the customer, or raise TooManyOrders with the seconds until
        the next window."""
        now = self.clock().timestamp()
        window_start = int(now // self.window_seconds) * self.window_seconds
        window_end = window_start + self.window_seconds
        admitted = self.counter.take(
            f"CUSTOMER#{customer_id}#{window_start}",
            limit=self.limit,
            expires_at=window_end + self.window_seconds,  # TTL deletes within hours, not at once
        )
        if not admitted:
            raise TooManyOrders(
                f"At most {self.limit} orders per {self.window_seconds} seconds; "
                "try again after Retry-After seconds",
                retry_after_seconds=math.ceil(window_end - now),
            )
