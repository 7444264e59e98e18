"""The event catalog as the contract tests see it: discovered once per test process."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from tests.support.template import ROOT, loaded_template
from tools.event_schemas.catalog import ServiceEvents, discover, event_types
from tools.event_schemas.routes import Route, routes
from tools.event_schemas.schemas import schema_path

SERVICES = discover(ROOT)
PRODUCERS = [service for service in SERVICES if service.source is not None]
CONSUMERS = [service for service in SERVICES if service.consumed_events]
EVENTS = event_types(SERVICES)
EVENT_KEYS = {event.key for event in EVENTS}


@cache
def template_routes() -> list[Route]:
    return routes(loaded_template())


def service_at(code_dir: Any) -> ServiceEvents | None:
    """The service whose folder is a function's CodeUri (None: it has no events.py)."""
    return next((service for service in SERVICES if service.code_dir == code_dir), None)


@cache
def _schema_text(source: str, detail_type: str) -> str:
    return (ROOT / schema_path(source, detail_type)).read_text()


def schema_validator(source: str, detail_type: str) -> Draft202012Validator:
    """A validator for the committed schema of the event, with formats (date-time) checked."""
    schema = json.loads(_schema_text(source, detail_type))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(source: str, detail_type: str, detail: Any) -> list[str]:
    validator = schema_validator(source, detail_type)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '<detail>'}: {error.message}"
        for error in validator.iter_errors(detail)
    )
