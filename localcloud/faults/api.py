"""`/_localcloud/faults`: GET the rules and the counts, POST a list to replace the rules, PATCH
a list to add to them, DELETE a list to remove those (or an empty body to remove all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from localcloud.faults.rules import RULES, FaultRegistry, FaultRule

# localcloud's own: another of its processes serving AWS calls (localcloud.dynamodb.process)
# draws from this process's rules, so there is one random sequence and one count.
FAULT_DRAW_PATH = "/_localcloud/faults/draw"


class FaultRulesInvalid(ValueError):
    """A rules document that is not a list of valid rules."""


def parse_rules(raw: bytes | str) -> list[FaultRule]:
    try:
        return RULES.validate_json(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise FaultRulesInvalid(problems) from None


def load_rules(path: Path) -> list[FaultRule]:
    """Rules from a file: a JSON list, or {"rules": [...]} (the shape GET answers with)."""
    text = path.read_text()
    document = json.loads(text)
    if isinstance(document, dict) and "rules" in document:
        text = json.dumps(document["rules"])
    return parse_rules(text)


def handle(registry: FaultRegistry, method: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one request to the faults API."""
    try:
        if method == "GET":
            return 200, registry.describe()
        if method == "POST":
            registry.replace(parse_rules(body))
        elif method == "PATCH":
            registry.add(parse_rules(body))
        elif method == "DELETE":
            registry.remove(parse_rules(body) if body.strip() else None)
        else:
            return 405, {"message": f"{method} is not allowed here", "code": "METHOD_NOT_ALLOWED"}
    except FaultRulesInvalid as error:
        return 400, {"message": str(error), "code": "VALIDATION_ERROR"}
    return 200, registry.describe()


def draw(registry: FaultRegistry, body: bytes) -> dict[str, Any]:
    """The rule that fires for a call another process serves ({"service", "operation",
    "actions"}), as {"rule": <the rule's JSON> | None}."""
    call = json.loads(body)
    rule = registry.draw(
        call["service"], call.get("operation"), actions=set(call.get("actions") or []) or None
    )
    return {"rule": rule.model_dump(mode="json", by_alias=True) if rule else None}
