"""The catalog's convention (docs/contracts.md): every events.py is found and well formed."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tests.contract.catalog import CONSUMERS, EVENTS, PRODUCERS, SERVICES
from tools.event_schemas.catalog import convention_problems


class _Data(BaseModel):
    orderId: str


def test_discovery_finds_every_producer_and_consumer_of_the_services_folder() -> None:
    # Given the services that existed when the catalog was introduced (a floor: more may come)
    # When every functions/*/*/events.py is discovered
    producers = {service.service: service.source for service in PRODUCERS}
    consumers = {service.service for service in CONSUMERS}

    # Then each producer's SOURCE is shop.<its folder>, and notifications consumes
    for name in ("customers", "inventory", "orders", "payments"):
        assert producers[name] == f"shop.{name}"
    assert "notifications" in consumers
    assert all(source == f"shop.{name}" for name, source in producers.items())
    assert len(EVENTS) == sum(len(service.event_models) for service in PRODUCERS)
    assert len({service.service for service in SERVICES}) == len(SERVICES)


@pytest.mark.parametrize(
    ("service", "source", "event_models", "consumed", "problem"),
    [
        ("orders", None, None, None, "defines neither EVENT_MODELS nor CONSUMED_EVENTS"),
        ("orders", "shop.order", {"OrderPlaced": _Data}, None, "SOURCE is 'shop.order'"),
        ("orders", "shop.orders", None, None, "both SOURCE and EVENT_MODELS"),
        ("orders", None, {"OrderPlaced": _Data}, None, "both SOURCE and EVENT_MODELS"),
        ("orders", "shop.orders", {"order_placed": _Data}, None, "'order_placed' is not Pascal"),
        ("orders", "shop.orders", {"OrderPlaced": dict}, None, "is not a pydantic model class"),
        ("orders", "shop.orders", {}, None, "EVENT_MODELS is not a non-empty dict"),
        ("notifications", None, None, {"OrderPlaced": object}, "is not a pydantic model class"),
    ],
)
def test_a_module_that_breaks_the_convention_is_reported(
    service: str, source: object, event_models: object, consumed: object, problem: str
) -> None:
    # Given an events.py with one thing wrong; When it is checked
    problems = convention_problems(service, source, event_models, consumed)

    # Then exactly that is reported
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_a_well_formed_producer_and_consumer_pass() -> None:
    assert convention_problems("orders", "shop.orders", {"OrderPlaced": _Data}, None) == []
    assert convention_problems("notifications", None, None, {"OrderPlaced": _Data}) == []
