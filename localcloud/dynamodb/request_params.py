"""DynamoDB requests read with json.loads when the service model would change nothing.

moto 5 reads every request's parameters by walking the operation's input shape over the
parsed JSON (moto.core.parse, as botocore's parsers do): 55 µs for an outbox PutItem, 5 with
json.loads alone, on every DynamoDB call the functions make. For DynamoDB's JSON protocol the
walk changes a value in two cases only: a blob (an AttributeValue's `B` or `BS`, which it
base64-decodes to bytes) and a timestamp (only in ExportTableToPointInTime, ListBackups and
RestoreTableToPointInTime). Member names, numbers, booleans, lists and maps come out as the
JSON has them.

`install()` answers DynamoHandler.parse_parameters with `json.loads(body)` when the operation
has no timestamp and the body holds no `"B"` or `"BS"` key text at all; anything else (a blob
anywhere, an attribute named B, a body that is not a JSON object) goes to moto's walk as
before. tests/localcloud/test_dynamodb_request_params.py compares both on generated requests.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_install_lock = threading.Lock()
_installed = False
moto_parse_parameters: Any = None  # moto's own, kept for comparison and for the other cases

_TIMESTAMPED = frozenset({"ExportTableToPointInTime", "ListBackups", "RestoreTableToPointInTime"})
_BLOB_KEYS = (b'"B"', b'"BS"')


def install() -> None:
    global _installed, moto_parse_parameters  # noqa: PLW0603 - moto's handler is process-wide
    from moto.dynamodb.responses import DynamoHandler

    with _install_lock:
        if _installed:
            return
        moto_parse_parameters = DynamoHandler.parse_parameters
        DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
        _installed = True


def parse_parameters(self: Any, request: Any) -> None:
    params = plain_params(self._get_action(), request.data)
    if params is None:
        moto_parse_parameters(self, request)
    else:
        self.params = params


def plain_params(operation: str, body: bytes | str | None) -> dict[str, Any] | None:
    """The request's parameters as moto's walk would give them, or None when it might differ."""
    if operation in _TIMESTAMPED or not body:
        return None
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if any(key in raw for key in _BLOB_KEYS):
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        return None
    return params if isinstance(params, dict) else None
