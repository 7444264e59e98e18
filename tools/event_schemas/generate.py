"""Everything `make schemas` derives from the catalog and the template, computed in memory,
then either written (`apply`) or compared with what is committed (`check`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localcloud.cloudformation.template import Template
from tools.event_schemas import catalog, readme, routes, schemas

ROOT = catalog.ROOT
README = Path("README.md")
TEMPLATE = Path("template.yaml")


@dataclass(frozen=True)
class Generated:
    schema_files: dict[Path, str]
    events_table: str


def generate(root: Path = ROOT) -> Generated:
    events = catalog.event_types(catalog.discover(root))
    template_routes = routes.routes(Template.load(root / TEMPLATE))
    return Generated(
        schema_files=schemas.expected_files(events),
        events_table=readme.table(events, template_routes),
    )


def check(root: Path = ROOT) -> list[str]:
    generated = generate(root)
    problems = schemas.problems(generated.schema_files, root)
    current = (root / README).read_text()
    if readme.with_table(current, generated.events_table) != current:
        problems.append(f"{README}: the Events table is stale (run `make schemas`)")
    return problems


def apply(root: Path = ROOT) -> list[str]:
    generated = generate(root)
    changes = schemas.write(generated.schema_files, root)
    current = (root / README).read_text()
    updated = readme.with_table(current, generated.events_table)
    if updated != current:
        (root / README).write_text(updated)
        changes.append(f"updated {README} (Events table)")
    return changes
