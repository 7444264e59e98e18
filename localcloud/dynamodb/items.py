"""An item's nested attribute values written out as JSON without a deep copy at every level.

moto turns a stored item into its wire JSON with `Item.to_json`, and each map or list value in
it with `DynamoType.to_regular_json`, which starts with `copy.deepcopy(self.value)` and then
calls `to_regular_json` on each element of that copy, which deep-copies its own value again:
a value at depth d is copied d times. Every write answers, meters and streams its item this
way (a streamed UpdateItem converts the old and the new item two or three times each), and
the shop's items are nested (an order's lines, a list of maps; its address, a map). An order
item's `to_json` took 22 µs here, 6 without the repeated copies.

`install()` replaces `DynamoType.to_regular_json` with the same conversion done once per
level: a map's or list's elements that are DynamoTypes are converted (recursively, by this
same function), any other element and any other value are deep-copied (strings, numbers,
booleans, bytes and None are immutable: deepcopy returns them as they are, so they are
handed over unchanged); a `B` value held as a str is base64-decoded as moto does. The result
is built of new dicts and lists, as moto's is, so nothing in it is shared with the stored
item. tests/localcloud/test_dynamodb_items.py compares both on every AttributeValue type,
nested, and on what the writes answer and stream. Server-side CPU per request (the endpoint's
WSGI app in process, A/B alternating): a conditional PutItem of an order item on a streamed
table 0.919 -> 0.886 ms median (12x600), the order mix of /tmp/mb/ddb_mix.py (19 requests:
puts, updates, transactions, gets, queries) 1.177 -> 1.096 ms per request (6x1140).
"""

from __future__ import annotations

import base64
import copy
import threading
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType

_install_lock = threading.Lock()
_installed = False
moto_to_regular_json: Any = None  # moto's own, kept for comparison

_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None)})


def install() -> None:
    global _installed, moto_to_regular_json  # noqa: PLW0603 - moto's class is process-wide
    with _install_lock:
        if _installed:
            return
        moto_to_regular_json = DynamoType.to_regular_json
        DynamoType.to_regular_json = to_regular_json  # type: ignore[method-assign]
        _installed = True


def to_regular_json(self: DynamoType) -> dict[str, Any]:
    """moto's `DynamoType.to_regular_json`, each level converted (and copied) once."""
    value = self.value
    if isinstance(value, dict):
        value = {key: _element(each) for key, each in value.items()}
    elif isinstance(value, list):
        value = [_element(each) for each in value]
    elif type(value) not in _IMMUTABLE:
        value = copy.deepcopy(value)
    if self.is_binary() and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


def _element(value: Any) -> Any:
    if isinstance(value, DynamoType):
        return to_regular_json(value)
    return value if type(value) in _IMMUTABLE else copy.deepcopy(value)
