"""localcloud's console: one order's whole story (its events, the saga drawn live from the state
machine's definition, its trace, emails, payments and log lines), the queues and their DLQs
with a redrive button, the alarms, the faults injected and the payment provider's ledger.

Served on the AWS endpoint at `/_console` (routes.py); what it shows is read from the emulated
services (data.py); the state machine's drawing is laid out here (graph.py) and drawn by the
page's own ES modules (static/), with no build step and nothing from the network.
"""
