"""schemas/events/** and the README's Events table are what `make schemas` generates now."""

from __future__ import annotations

import json
from pathlib import Path

from tests.contract.catalog import EVENTS, template_routes
from tests.contract.emissions import all_emissions, scenario_services
from tests.support.template import ROOT
from tools.event_schemas import generate, readme, schemas


def test_committed_schemas_are_the_generated_ones_one_per_event_model() -> None:
    # Given the event models of every producer; When their schemas are generated in memory
    expected = schemas.expected_files(EVENTS)

    # Then the committed files are exactly those: none missing, none left over, none stale
    assert schemas.problems(expected, ROOT) == []
    assert set(expected) == {
        Path("schemas/events") / event.source / f"{event.detail_type}.json" for event in EVENTS
    }


def test_the_checker_reports_a_missing_a_left_over_and_a_stale_schema(tmp_path: Path) -> None:
    # Given a copy of the current schemas with one deleted, one without a model, one edited
    expected = schemas.expected_files(EVENTS)
    schemas.write(expected, tmp_path)
    missing, stale = sorted(expected)[:2]
    (tmp_path / missing).unlink()
    orphan = Path("schemas/events/shop.orders/OrderTeleported.json")
    (tmp_path / orphan).write_text("{}\n")
    (tmp_path / stale).write_text(expected[stale].replace('"required"', '"optional"', 1))

    # When the copy is checked
    problems = schemas.problems(expected, tmp_path)

    # Then each of the three is reported, and nothing else
    assert problems == [
        f"{missing}: missing, an event model has no schema (run `make schemas`)",
        f"{orphan}: no event model has this schema (run `make schemas`)",
        f"{stale}: stale, its event model changed (run `make schemas`)",
    ]


def test_generating_twice_writes_once_and_the_output_is_deterministic(tmp_path: Path) -> None:
    # Given an empty project folder and a left-over schema of an event that no longer exists
    orphan = tmp_path / "schemas/events/shop.gone/Vanished.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}\n")

    # When the schemas are written twice from two separate generations
    first = schemas.write(schemas.expected_files(EVENTS), tmp_path)
    second = schemas.write(schemas.expected_files(EVENTS), tmp_path)

    # Then the first run created every file and removed the left-over, the second changed nothing
    assert sorted(first) == sorted(
        [f"created {path}" for path in schemas.expected_files(EVENTS)]
        + ["deleted schemas/events/shop.gone/Vanished.json", "deleted schemas/events/shop.gone/"]
    )
    assert second == []
    assert not orphan.parent.exists()
    # and each file is the JSON Schema with sorted keys and one trailing newline
    for path, text in schemas.expected_files(EVENTS).items():
        written = (tmp_path / path).read_text()
        assert written == text
        assert written.endswith("}\n")
        assert not written.endswith("\n\n")
        assert written == json.dumps(json.loads(written), indent=2, sort_keys=True) + "\n"


def test_readme_events_table_is_the_generated_one() -> None:
    # Given the README as committed; When the Events table is generated from the catalog
    current = (ROOT / "README.md").read_text()
    table = generate.generate(ROOT).events_table

    # Then the README already holds exactly that table between its markers
    assert readme.with_table(current, table) == current, "README.md is stale: run make schemas"
    for event in EVENTS:
        assert f"| {event.detail_type} | {event.service} (`{event.source}`) |" in table


def test_readme_table_names_each_consumer_a_rule_delivers_an_event_to() -> None:
    # Given what the producers emit and the template's rules
    table = readme.table(EVENTS, template_routes())
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in table.splitlines()[2:]}

    # Then every consumer a rule routes an emitted event to is in that event's row
    for emission in all_emissions(scenario_services()):
        for route in template_routes():
            if route.matches(emission.bus_event()):
                for consumer in route.consumers:
                    assert (
                        f"{consumer.service} (`{consumer.function}`)" in rows[emission.detail_type]
                    )


def test_generate_check_reports_nothing_for_the_committed_tree() -> None:
    assert generate.check(ROOT) == []
