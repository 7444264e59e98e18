"""The orders read model (CQRS): one summary per order in OrderSummariesTable, listed per customer
newest first (GET /v1/orders).

It is fed by the order events on the bus (OrderSummariesQueue -> project_order_summary), each
folded onto the order's state with the orders fold (`orders.logic.apply`), so a new kind of order
event needs no change here. Every summary carries the order's version and is written only over an
older one, so duplicates and late events change nothing; an event that arrives before an earlier
one is filled in from the event store. `rebuild_order_summaries` rebuilds it all from the store.
"""
