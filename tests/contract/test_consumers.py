"""(c) Consumers parse what producers send: every event a rule routes to a consumer's queue,
as the producer really emitted it, is parsed with the consumer's own models (CONSUMED_EVENTS,
through `shop_shared.events.parse_detail`, as the consumer's logic does)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from shop_shared.events import parse_detail
from tests.contract.catalog import CONSUMERS, service_at, template_routes
from tests.contract.emissions import Emission, all_emissions, scenario_services
from tools.event_schemas.catalog import ServiceEvents
from tools.event_schemas.routes import Consumer, Route

DELIVERIES = [(route, consumer) for route in template_routes() for consumer in route.consumers]
by_delivery = pytest.mark.parametrize(
    ("route", "consumer"),
    DELIVERIES,
    ids=lambda value: value.rule if isinstance(value, Route) else value.function,
)


def routed(route: Route) -> list[Emission]:
    """What the producers emitted that the rule delivers to its target."""
    emitted = all_emissions(scenario_services())
    return [emission for emission in emitted if route.matches(emission.bus_event())]


def consuming_service(consumer: Consumer) -> ServiceEvents:
    service = service_at(consumer.code_dir)
    missing = (
        f"{consumer.function} is fed by a rule: declare CONSUMED_EVENTS in "
        f"functions/{consumer.service}/{consumer.service}/events.py (docs/contracts.md)"
    )
    assert service is not None, missing
    assert service.consumed_events, missing
    return service


def as_delivered(emission: Emission) -> dict[str, Any]:
    """The `detail` as the consumer reads it: out of the SQS body EventBridge wrote."""
    body = json.dumps(emission.bus_event())
    detail: dict[str, Any] = json.loads(body)["detail"]
    return detail


def test_every_consumer_is_fed_by_a_rule() -> None:
    fed = {consumer.code_dir for _, consumer in DELIVERIES}
    assert [service.service for service in CONSUMERS if service.code_dir not in fed] == []


@by_delivery
def test_rule_delivers_exactly_the_events_the_consumer_reads(
    route: Route, consumer: Consumer
) -> None:
    # Given the consumer's CONSUMED_EVENTS; When the producers emit
    service = consuming_service(consumer)

    # Then the rule delivers every detail-type the consumer reads, and nothing it ignores
    assert {emission.detail_type for emission in routed(route)} == set(service.consumed_events)


@by_delivery
def test_consumer_parses_every_event_the_rule_delivers(route: Route, consumer: Consumer) -> None:
    service = consuming_service(consumer)
    # Given each event a producer really emitted that the rule delivers to the consumer
    for emission in routed(route):
        model = service.consumed_events[emission.detail_type]

        # When the consumer parses it with its own model
        parsed = parse_detail(as_delivered(emission), model)

        # Then it is accepted, with the producer's event id, and every field the consumer reads
        # is one the producer sent (none left to a default), with the value sent
        assert parsed.metadata.eventId == emission.event.event_id
        sent = emission.detail["data"]
        read = parsed.data.model_dump(mode="json")
        assert set(read) <= set(sent), f"{emission.detail_type}: {set(read) - set(sent)} not sent"
        assert {name: sent[name] for name in read} == read


@by_delivery
def test_consumer_rejects_an_event_without_a_field_it_needs(
    route: Route, consumer: Consumer
) -> None:
    service = consuming_service(consumer)
    # Given each delivered event with one field the consumer requires removed
    for emission in routed(route):
        model = service.consumed_events[emission.detail_type]
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        for name in required:
            detail = copy.deepcopy(as_delivered(emission))
            detail["data"].pop(name)

            # When the consumer parses it; Then its model refuses it (so the check above can fail)
            with pytest.raises(ValidationError, match=name):
                parse_detail(detail, model)
