"""What the producers really emit: each producer scenario run with its events captured.

`run()` of `tests/contract/producers/<service>.py` returns the outbox items it stored; while it
runs, `DomainEvent.detail_json` (which `shop_shared.events.event_item` calls to store an event)
is wrapped to record every event object, so each stored item is paired with the event the
producer built, typed data model included.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shop_shared.events import DomainEvent
from tests.support.template import ROOT
from tools.event_schemas.routes import bus_event

SCENARIOS = ROOT / "tests" / "contract" / "producers"


@dataclass(frozen=True)
class Emission:
    """One event a producer stored: the outbox item and the event object behind it."""

    service: str
    item: dict[str, Any]
    event: DomainEvent[Any]

    @property
    def source(self) -> str:
        return str(self.item["source"])

    @property
    def detail_type(self) -> str:
        return str(self.item["detailType"])

    @property
    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = json.loads(self.item["detail"])
        return detail

    def bus_event(self) -> dict[str, Any]:
        """The event as EventBridge delivers it to a rule's target (what the relay publishes)."""
        return bus_event(self.source, self.detail_type, self.detail, event_id=self.event.event_id)


class StoredWithoutEventItem(AssertionError):
    """An outbox item whose event was not stored through `shop_shared.events.event_item`."""


def scenario_services() -> list[str]:
    return sorted(path.stem for path in SCENARIOS.glob("*.py") if path.stem != "__init__")


def scenario_path(service: str) -> Path:
    return SCENARIOS / f"{service}.py"


@contextmanager
def recording_events() -> Iterator[list[DomainEvent[Any]]]:
    recorded: list[DomainEvent[Any]] = []
    original = DomainEvent.detail_json

    def detail_json(self: DomainEvent[Any]) -> str:
        recorded.append(self)
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DomainEvent, "detail_json", detail_json)
        yield recorded


@cache
def emissions(service: str) -> tuple[Emission, ...]:
    """Run the service's producer scenario once (per test process) and pair what it stored with
    the events it built."""
    if not scenario_path(service).exists():
        raise AssertionError(f"{service}: add its producer scenario, {scenario_path(service)}")
    module = importlib.import_module(f"tests.contract.producers.{service}")
    with recording_events() as recorded:
        items = module.run()
    built = {event.event_id: event for event in recorded}
    found = []
    for item in items:
        event = built.get(item["eventId"])
        if event is None or event.detail_json() != item["detail"]:
            raise StoredWithoutEventItem(
                f"{service}: outbox item {item['pk']} was not stored with event_item(event, ...)"
            )
        found.append(Emission(service, item, event))
    return tuple(found)


def all_emissions(services: list[str]) -> list[Emission]:
    return [emission for service in services for emission in emissions(service)]
