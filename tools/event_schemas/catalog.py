"""Find every service's `events.py` (docs/contracts.md, "The event catalog") and check it.

A producer's module has `SOURCE = "shop.<service>"` and `EVENT_MODELS` (detail-type -> model of
the event's `data`); a consumer's has `CONSUMED_EVENTS` (detail-type -> its own model of the
`data` it parses). Modules are found by walking `functions/*/*/events.py` and imported as
`<package>.events`, with the import roots Lambda and the tests use (the service folder and the
shared layer on the path: pyproject.toml's pytest `pythonpath`, or the Makefile's PYTHONPATH).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EVENTS_GLOB = "functions/*/*/events.py"
SOURCE_PREFIX = "shop."
DETAIL_TYPE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+$")  # PascalCase, 2+ words


class CatalogError(Exception):
    """An `events.py` that breaks the catalog's convention; the message says what to fix."""


@dataclass(frozen=True)
class EventType:
    """One event a producer emits: EventBridge's source and detail-type, and its data model."""

    service: str
    source: str
    detail_type: str
    model: type[BaseModel]

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.detail_type)


@dataclass(frozen=True)
class ServiceEvents:
    """What one service's `events.py` declares."""

    service: str  # the folder under functions/ (the function's CodeUri) and the package's name
    code_dir: Path
    module: ModuleType
    source: str | None
    event_models: Mapping[str, type[BaseModel]]
    consumed_events: Mapping[str, type[BaseModel]]

    @property
    def produced(self) -> list[EventType]:
        if self.source is None:
            return []
        return [
            EventType(self.service, self.source, detail_type, model)
            for detail_type, model in sorted(self.event_models.items())
        ]


def discover(root: Path = ROOT) -> list[ServiceEvents]:
    """Every service with an `events.py`, by service name."""
    return [_load(path, root) for path in sorted(root.glob(EVENTS_GLOB))]


def event_types(services: list[ServiceEvents]) -> list[EventType]:
    """Every event any producer emits, sorted by (source, detail-type)."""
    events = [event for service in services for event in service.produced]
    return sorted(events, key=lambda event: event.key)


def producers(services: list[ServiceEvents]) -> dict[str, ServiceEvents]:
    """Producing services by their SOURCE."""
    return {service.source: service for service in services if service.source is not None}


def _load(path: Path, root: Path) -> ServiceEvents:
    code_dir = path.parent.parent
    package = path.parent.name
    where = path.relative_to(root)
    try:
        module = importlib.import_module(f"{package}.events")
    except ModuleNotFoundError as error:
        if error.name not in (package, f"{package}.events"):
            raise
        raise CatalogError(
            f"{where}: package `{package}` is not importable. Run `make schemas` (it puts "
            "layers/shared and every functions/<service> on PYTHONPATH); for the tests, list "
            f'"{code_dir.relative_to(root)}" in pyproject.toml\'s pythonpath and mypy_path'
        ) from error
    if Path(module.__file__ or "").resolve() != path.resolve():
        raise CatalogError(f"{where}: `{package}.events` was imported from {module.__file__}")
    source = getattr(module, "SOURCE", None)
    event_models = getattr(module, "EVENT_MODELS", None)
    consumed = getattr(module, "CONSUMED_EVENTS", None)
    problems = convention_problems(code_dir.name, source, event_models, consumed)
    if problems:
        raise CatalogError("\n".join(f"{where}: {problem}" for problem in problems))
    return ServiceEvents(
        service=code_dir.name,
        code_dir=code_dir,
        module=module,
        source=source,
        event_models=dict(event_models or {}),
        consumed_events=dict(consumed or {}),
    )


def convention_problems(service: str, source: Any, event_models: Any, consumed: Any) -> list[str]:
    """How an events.py module's SOURCE, EVENT_MODELS and CONSUMED_EVENTS break the convention."""
    problems: list[str] = []
    if event_models is None and consumed is None and source is None:
        return ["defines neither EVENT_MODELS nor CONSUMED_EVENTS"]
    if (source is None) != (event_models is None):
        problems.append("a producer defines both SOURCE and EVENT_MODELS, not one of them")
    if source is not None and source != f"{SOURCE_PREFIX}{service}":
        problems.append(f"SOURCE is {source!r}, not {SOURCE_PREFIX}{service!r}")
    for name, models in (("EVENT_MODELS", event_models), ("CONSUMED_EVENTS", consumed)):
        if models is None:
            continue
        if not isinstance(models, Mapping) or not models:
            problems.append(f"{name} is not a non-empty dict of detail-type -> model")
            continue
        for detail_type, model in models.items():
            if not isinstance(detail_type, str) or not DETAIL_TYPE.match(detail_type):
                problems.append(f"{name}: detail-type {detail_type!r} is not PascalCase")
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                problems.append(f"{name}[{detail_type!r}] is not a pydantic model class")
    return problems
