"""Which AWS calls a handler's client makes, counted with botocore's event hook."""

from __future__ import annotations

from typing import Any


def dynamodb_calls(handler_module: Any) -> list[str]:
    """The DynamoDB operations the handler's repository makes from now on (botocore's event
    hook on its client; the calls still reach moto)."""
    calls: list[str] = []
    client = handler_module.repository._dynamodb.meta.client
    client.meta.events.register(
        "provide-client-params.dynamodb", lambda model, **_: calls.append(model.name)
    )
    return calls
