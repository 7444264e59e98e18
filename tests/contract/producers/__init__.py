"""Producer scenarios of the contract tests, one module per producing service.

`tests/contract/producers/<service>.py` has `run() -> list[dict]`: it drives the service's real
logic and repository (on moto, with the table template.yaml declares, or with the unit fakes)
until the service has emitted every event in its `EVENT_MODELS`, and returns the outbox items
(`itemType = "EVENT"`) it stored. `tests/contract/emissions.py` runs it and captures the event
objects behind those items; docs/contracts.md ("The event catalog") asks each new producer for
its module.
"""

from __future__ import annotations

from typing import Any

import boto3

from localcloud.cloudformation.tables import create_table
from shop_shared.events import EVENT_ITEM_TYPE
from tests.support.template import resource


def template_table(logical_id: str) -> Any:
    """Create the table as template.yaml declares it, in the moto that is active."""
    create_table(boto3.client("dynamodb"), logical_id, resource(logical_id)["Properties"])
    return boto3.resource("dynamodb").Table(logical_id)


def outbox_items(table: Any) -> list[dict[str, Any]]:
    """Every event item the table holds (outbox or event store), oldest first."""
    items: list[dict[str, Any]] = []
    page: dict[str, Any] = {"ConsistentRead": True}
    while True:
        response = table.scan(**page)
        items.extend(item for item in response["Items"] if item.get("itemType") == EVENT_ITEM_TYPE)
        if "LastEvaluatedKey" not in response:
            break
        page["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["occurredAt"], item["pk"], item.get("sk", "")))
