"""(b) Every EventBridge rule of template.yaml names sources and detail-types that producers
really emit: a typo such as `shop.order` (for `shop.orders`) would silently deliver nothing."""

from __future__ import annotations

import copy
import json

import pytest

from tests.contract.catalog import template_routes
from tests.contract.emissions import all_emissions, scenario_services
from tools.event_schemas.routes import ROUTED_KEYS, Route, pattern_problems

ROUTES = template_routes()
by_route = pytest.mark.parametrize(
    "route", ROUTES, ids=lambda route: f"{route.rule}-{route.target}"
)


def emitted_bus_events() -> list[dict[str, object]]:
    """Every event the producers' scenarios emitted, as the bus carries it."""
    return [e.bus_event() for e in all_emissions(scenario_services())]


def test_the_template_has_rules() -> None:
    assert ROUTES, "no AWS::Events::Rule with an EventPattern in template.yaml"


@by_route
def test_rule_pattern_names_only_what_producers_emit(route: Route) -> None:
    # Given what the producers really emit; When the rule's pattern is checked against it
    problems = pattern_problems(route.rule, route.pattern, emitted_bus_events())

    # Then every source and detail-type it lists matches an emitted event
    assert problems == []


@by_route
def test_no_rule_targets_a_lambda_directly(route: Route) -> None:
    assert route.target_type != "AWS::Lambda::Function", (
        f"{route.rule}: route {route.target} through an SQS queue with a DLQ (DESIGN section 2)"
    )


typo_cases = [
    (route, key)
    for route in ROUTES
    for key in ROUTED_KEYS
    if isinstance(route.pattern.get(key), list) and isinstance(route.pattern[key][0], str)
]


@pytest.mark.parametrize(
    ("route", "key"), typo_cases, ids=lambda case: case if isinstance(case, str) else case.rule
)
def test_a_typo_in_a_copy_of_the_pattern_is_caught_exactly(route: Route, key: str) -> None:
    # Given a copy of the rule's pattern whose first alternative lost its last letter
    # (for NotificationsRule's source: shop.orders -> shop.order)
    pattern = copy.deepcopy(route.pattern)
    typo = pattern[key][0][:-1]
    pattern[key][0] = typo

    # When the copy is checked
    problems = pattern_problems(route.rule, pattern, emitted_bus_events())

    # Then that alternative is reported (the untouched pattern has no problem at all); other
    # alternatives are reported only when the typo left them matching nothing
    assert pattern_problems(route.rule, route.pattern, emitted_bus_events()) == []
    typo_problem = (
        f"{route.rule}: {key} {json.dumps(typo)} matches no event a producer emits "
        "(with the rest of the pattern)"
    )
    assert typo_problem in problems
    assert [problem for problem in problems if json.dumps(typo) in problem] == [typo_problem]


def test_shop_order_instead_of_shop_orders_is_caught() -> None:
    # Given the notifications rule with shop.order typed for shop.orders
    pattern = {
        "source": ["shop.order", "shop.customers"],
        "detail-type": ["OrderConfirmed", "OrderRejected", "CustomerRegistered"],
    }

    # When it is checked against what the producers emit
    problems = pattern_problems("NotificationsRule", pattern, emitted_bus_events())

    # Then the typo is reported, and so are the two order events it leaves unroutable
    assert problems == [
        'NotificationsRule: source "shop.order" matches no event a producer emits '
        "(with the rest of the pattern)",
        'NotificationsRule: detail-type "OrderConfirmed" matches no event a producer emits '
        "(with the rest of the pattern)",
        'NotificationsRule: detail-type "OrderRejected" matches no event a producer emits '
        "(with the rest of the pattern)",
    ]


def test_a_pattern_that_matches_nothing_at_all_is_caught() -> None:
    pattern = {"source": ["shop.orders"], "detail-type": ["OrderTeleported"]}

    problems = pattern_problems("SomeRule", pattern, emitted_bus_events())

    assert problems == [
        "SomeRule: the pattern matches no event a producer emits",
        'SomeRule: source "shop.orders" matches no event a producer emits '
        "(with the rest of the pattern)",
        'SomeRule: detail-type "OrderTeleported" matches no event a producer emits '
        "(with the rest of the pattern)",
    ]
