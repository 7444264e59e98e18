"""Which events reach which consumer: the EventBridge rules of template.yaml, read translated.

A rule's target is an SQS queue (DESIGN: no rule targets a Lambda directly) and the queue's
event source mapping names the consuming function, whose CodeUri is its service's folder.
Patterns are matched with moto's EventBridge matcher, the one localcloud delivers with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from moto.events.models import EventPattern

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template

ROUTED_KEYS = ("source", "detail-type")  # what a rule must name that a producer really emits


@dataclass(frozen=True)
class Consumer:
    function: str  # logical id of the function the queue feeds
    code_dir: Path  # its CodeUri: functions/<service>

    @property
    def service(self) -> str:
        return self.code_dir.name


@dataclass(frozen=True)
class Route:
    """One target of one rule: the pattern, the target and the functions it feeds."""

    rule: str
    pattern: dict[str, Any]
    target: str  # logical id of the target resource
    target_type: str
    consumers: tuple[Consumer, ...]

    def matches(self, event: Mapping[str, Any]) -> bool:
        return matches(self.pattern, event)


def routes(template: Template) -> list[Route]:
    """Every (rule, target) of the template, with the functions each target queue feeds."""
    fed_by: dict[str, list[Consumer]] = {}
    for _, mapping in template.of_type("AWS::Lambda::EventSourceMapping"):
        source = logical_id(mapping.get("EventSourceArn"))
        function = logical_id(mapping.get("FunctionName"))
        if source is None or function is None:
            continue
        code = template.resources[function]["Properties"]["Code"]
        fed_by.setdefault(source, []).append(Consumer(function, template.local_path(code)))
    found = []
    for rule, properties in template.of_type("AWS::Events::Rule"):
        pattern = properties.get("EventPattern")
        if pattern is None:
            continue  # a scheduled rule routes no events
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        for target in properties.get("Targets", []):
            target_id = logical_id(target.get("Arn")) or str(target.get("Arn"))
            target_type = template.resources.get(target_id, {}).get("Type", "external")
            consumers = tuple(sorted(fed_by.get(target_id, []), key=lambda c: c.function))
            found.append(Route(rule, pattern, target_id, target_type, consumers))
    return sorted(found, key=lambda route: (route.rule, route.target))


def logical_id(value: Any) -> str | None:
    """The resource a `Ref` or `Fn::GetAtt` names, or None for anything else."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            return argument
        if function == "Fn::GetAtt":
            return str(argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
    return None


def bus_event(
    source: str, detail_type: str, detail: Mapping[str, Any], *, event_id: str = "0"
) -> dict[str, Any]:
    """The event as EventBridge hands it to a rule's target (and a queue's consumer)."""
    metadata = detail.get("metadata")
    time = metadata.get("occurredAt") if isinstance(metadata, Mapping) else None
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": time or "2026-11-25T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": dict(detail),
    }


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    matcher = EventPattern(json.dumps(pattern), dict(pattern))
    return bool(matcher.matches_event(cast("Any", dict(event))))


def routed_part(pattern: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a pattern that selects by source and detail-type only."""
    return {key: value for key, value in pattern.items() if key in ROUTED_KEYS}


def pattern_problems(
    route_name: str, pattern: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> list[str]:
    """What in `pattern` no emitted event matches: each alternative of `source` and of
    `detail-type` must match at least one of `events` with the rest of the pattern as it is,
    so a typo (`shop.order`) or an event nobody emits is caught, not silently never delivered."""
    problems = []
    if not any(matches(pattern, event) for event in events):
        problems.append(f"{route_name}: the pattern matches no event a producer emits")
    for key in ROUTED_KEYS:
        alternatives = pattern.get(key)
        if alternatives is None:
            continue
        if not isinstance(alternatives, list):
            problems.append(f"{route_name}: {key} is not a list of alternatives")
            continue
        for alternative in alternatives:
            narrowed = {**pattern, key: [alternative]}
            if not any(matches(narrowed, event) for event in events):
                problems.append(
                    f"{route_name}: {key} {json.dumps(alternative)} matches no event a "
                    "producer emits (with the rest of the pattern)"
                )
    return problems
