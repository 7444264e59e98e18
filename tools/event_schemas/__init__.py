"""The event catalog: discovery of every service's `events.py`, the JSON Schemas generated from
it into `schemas/events/`, the rules of template.yaml that route the events, and the README's
"Events" table. `python -m tools.event_schemas` (`make schemas`) regenerates the schemas and
the table; the contract tests (tests/contract) hold the committed files to what this computes.
"""
