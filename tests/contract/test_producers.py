"""(a) Every event a producer emits is built from its catalog model and validates against its
committed schema: each producer's real logic and repository run (tests/contract/producers/),
and what they stored in the outbox is checked."""

from __future__ import annotations

import copy
import json

import pytest

from tests.contract.catalog import PRODUCERS, schema_errors
from tests.contract.emissions import emissions, scenario_path, scenario_services
from tools.event_schemas.catalog import ServiceEvents

by_name = pytest.mark.parametrize("producer", PRODUCERS, ids=lambda service: service.service)


@by_name
def test_each_producer_has_a_scenario(producer: ServiceEvents) -> None:
    assert scenario_path(producer.service).exists(), (
        f"add tests/contract/producers/{producer.service}.py (docs/contracts.md, "
        '"The event catalog") so its events are checked'
    )


def test_each_scenario_belongs_to_a_producer() -> None:
    assert set(scenario_services()) <= {producer.service for producer in PRODUCERS}


@by_name
def test_producer_emits_every_event_it_declares_and_nothing_else(producer: ServiceEvents) -> None:
    # Given the producer's real logic and repository; When its scenario runs
    emitted = emissions(producer.service)

    # Then its outbox holds each detail-type of EVENT_MODELS, from its SOURCE, and nothing else
    assert {emission.detail_type for emission in emitted} == set(producer.event_models)
    for emission in emitted:
        assert emission.source == producer.source
        assert emission.item["eventId"] == emission.detail["metadata"]["eventId"]
        assert emission.detail["metadata"]["producer"] == producer.service
    # and each stored event is stored once (event ids are unique), and the steps the scenario
    # runs twice (a retried saga task) described their change once: no two events are the same
    event_ids = [emission.item["eventId"] for emission in emitted]
    assert len(event_ids) == len(set(event_ids))
    changes = [(emission.detail_type, json.dumps(emission.detail["data"])) for emission in emitted]
    assert len(changes) == len(set(changes))


@by_name
def test_producer_builds_each_event_from_its_catalog_model(producer: ServiceEvents) -> None:
    # When the producer emits; Then the data of each event is an instance of exactly the model
    # EVENT_MODELS names for its detail-type (not a look-alike defined elsewhere)
    for emission in emissions(producer.service):
        data = emission.event.detail.data
        assert type(data) is producer.event_models[emission.detail_type], emission.detail_type
        assert emission.event.source == producer.source
        assert emission.event.detail_type == emission.detail_type


@by_name
def test_emitted_details_validate_against_their_committed_schemas(producer: ServiceEvents) -> None:
    # When the producer emits; Then each stored detail validates against its schema file
    for emission in emissions(producer.service):
        assert schema_errors(emission.source, emission.detail_type, emission.detail) == [], (
            emission.detail_type
        )


@by_name
def test_the_schema_rejects_what_a_consumer_could_not_read(producer: ServiceEvents) -> None:
    # Given each event the producer really emitted
    for emission in emissions(producer.service):
        source, detail_type, detail = emission.source, emission.detail_type, emission.detail

        # When a required part is missing or a timestamp is not one; Then the schema says so
        without_data = {"metadata": detail["metadata"]}
        assert schema_errors(source, detail_type, without_data) == [
            "<detail>: 'data' is a required property"
        ]
        for field in detail["data"]:
            broken = copy.deepcopy(detail)
            del broken["data"][field]
            model = producer.event_models[detail_type]
            required = field in model.model_json_schema(mode="serialization").get("required", [])
            assert bool(schema_errors(source, detail_type, broken)) == required, field
        broken = copy.deepcopy(detail)
        broken["metadata"]["occurredAt"] = "yesterday"
        assert schema_errors(source, detail_type, broken) == [
            "metadata/occurredAt: 'yesterday' is not a 'date-time'"
        ]
