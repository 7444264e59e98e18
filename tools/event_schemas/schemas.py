"""The JSON Schema of each event's whole `detail`, as committed under `schemas/events/`.

`schemas/events/<source>/<DetailType>.json` is `EventDetail[<data model>]`'s JSON Schema
(`model_json_schema` in serialization mode: the JSON producers put on the bus, which is what
consumers receive), with sorted keys and a trailing newline, so regenerating is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.event_schemas.catalog import EventType

SCHEMA_DIR = Path("schemas/events")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_path(source: str, detail_type: str) -> Path:
    """Where the schema of an event lives, relative to the project root."""
    return SCHEMA_DIR / source / f"{detail_type}.json"


def detail_schema(event: EventType) -> dict[str, Any]:
    from shop_shared.events import EventDetail  # the layer is on the path once discovery ran

    detail_model = EventDetail[event.model]  # type: ignore[name-defined]
    schema: dict[str, Any] = detail_model.model_json_schema(mode="serialization")
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = schema_path(event.source, event.detail_type).as_posix()
    schema["title"] = event.detail_type
    schema["description"] = (
        f"`detail` of the {event.detail_type} event (source {event.source}), generated from "
        f"{event.model.__module__}.{event.model.__qualname__} by `make schemas`; do not edit."
    )
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files(events: list[EventType]) -> dict[Path, str]:
    """Every schema file the catalog calls for, by path relative to the project root."""
    return {
        schema_path(event.source, event.detail_type): render(detail_schema(event))
        for event in events
    }


def committed_files(root: Path) -> dict[Path, str]:
    return {
        path.relative_to(root): path.read_text()
        for path in sorted((root / SCHEMA_DIR).rglob("*.json"))
    }


def problems(expected: dict[Path, str], root: Path) -> list[str]:
    """How the committed schemas differ from the expected ones; empty when they are current."""
    committed = committed_files(root)
    found = []
    for path in sorted(expected.keys() - committed.keys()):
        found.append(f"{path}: missing, an event model has no schema (run `make schemas`)")
    for path in sorted(committed.keys() - expected.keys()):
        found.append(f"{path}: no event model has this schema (run `make schemas`)")
    for path in sorted(expected.keys() & committed.keys()):
        if expected[path] != committed[path]:
            found.append(f"{path}: stale, its event model changed (run `make schemas`)")
    return found


def write(expected: dict[Path, str], root: Path) -> list[str]:
    """Make the committed schemas the expected ones; returns what changed (nothing the 2nd time)."""
    committed = committed_files(root)
    changes = []
    for path in sorted(committed.keys() - expected.keys()):
        (root / path).unlink()
        changes.append(f"deleted {path}")
    for path, text in sorted(expected.items()):
        if committed.get(path) == text:
            continue
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        changes.append(f"{'updated' if path in committed else 'created'} {path}")
    for directory in sorted((root / SCHEMA_DIR).glob("*"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            changes.append(f"deleted {directory.relative_to(root)}/")
    return changes
