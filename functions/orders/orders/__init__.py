"""The orders service: an event-sourced order aggregate in OrdersTable.

Each change is one event item (`pk = ORDER#<orderId>`, `sk = V#<version:06d>`); the state of an
order is the fold of its events. The table's stream carries the items to the bus (the outbox
relay) and OrderPlaced items to the saga starter.
"""
