"""(d) Every event carried by a sample in events/*.json (a DynamoDB stream image of an outbox
item, an SQS body holding an EventBridge event, an EventBridge event) validates against the
committed schema of its source and detail-type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.catalog import EVENT_KEYS, schema_errors
from tests.support.template import ROOT

SAMPLES = sorted((ROOT / "events").glob("*.json"))


def carried_events(node: Any, where: str = "") -> Iterator[tuple[str, str, str, Any]]:
    """(where, source, detail-type, detail) of every event inside a sample, however wrapped."""
    if isinstance(node, str) and node.lstrip().startswith("{"):
        try:
            parsed = json.loads(node)
        except json.JSONDecodeError:
            return
        yield from carried_events(parsed, where)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from carried_events(child, f"{where}/{index}")
    elif isinstance(node, dict):
        if {"source", "detail-type", "detail"} <= node.keys():  # an EventBridge event
            yield where, node["source"], node["detail-type"], node["detail"]
            return
        if node.get("itemType") == {"S": "EVENT"}:  # a stream image of an event item
            detail = json.loads(node["detail"]["S"])
            yield where, node["source"]["S"], node["detailType"]["S"], detail
            return
        for key, child in node.items():
            yield from carried_events(child, f"{where}/{key}")


def events_in(sample: Path) -> list[tuple[str, str, str, Any]]:
    return list(carried_events(json.loads(sample.read_text())))


CARRIERS = [sample for sample in SAMPLES if events_in(sample)]


def test_the_samples_of_event_consumers_are_found() -> None:
    # The relay, the saga starter and the notifications consumer read events: their samples
    # carry some (a floor, so the test below never runs over nothing)
    names = {sample.name for sample in CARRIERS}
    assert {"outbox_relay.json", "send_notification.json", "start_order_workflows.json"} <= names


@pytest.mark.parametrize("sample", CARRIERS, ids=lambda sample: sample.name)
def test_every_event_a_sample_carries_validates_against_its_schema(sample: Path) -> None:
    for where, source, detail_type, detail in events_in(sample):
        assert (source, detail_type) in EVENT_KEYS, f"{where}: no producer emits {detail_type}"
        assert schema_errors(source, detail_type, detail) == [], f"{sample.name}{where}"


def test_a_sample_event_that_breaks_its_schema_is_caught() -> None:
    # Given the first event of the relay's sample with its data emptied
    _, source, detail_type, detail = events_in(ROOT / "events" / "outbox_relay.json")[0]
    broken = {**detail, "data": {}}

    # When it is validated; Then it fails
    assert schema_errors(source, detail_type, broken) != []
