"""moto's DynamoDB items made and written out without repeated work.

**Written out** (`DynamoType.to_regular_json`): an item's nested values as JSON without a
deep copy at every level.

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

**Made** (`Item.__init__`): moto keeps an item's attributes in a `LimitedSizeDict`, whose
`__setitem__` refuses an attribute that takes the item past 405,000 bytes by summing the
sizes of every attribute already there (`DynamoType.size`, which re-wraps each nested map
value in a new DynamoType) plus the new one's. `Item.__init__` sets the attributes one by
one, so an item of k attributes has its first attributes sized k times over: quadratic in
the item, for every PutItem, every transaction Put and every item an update creates. Here
`Item.__init__` wraps each attribute as moto does and adds the same two numbers moto adds
(the new attribute: `bytesize(key) + value.size()`; the ones already there:
`bytesize(str(key)) + value.size()`, each measured once, since nothing changes them while the
item is being made), raising `ItemSizeTooLarge` at the same attribute moto would. Later
writes to `attrs` (an update's SET) still go through moto's `__setitem__`. Making an order
item (8 attributes, 3 lines): 92-113 -> 34-63 µs, an idempotency record (4 flat attributes)
11-45 -> 6 µs (3 alternating rounds of 3,000 on a noisy host); server-side A/B of a
conditional order PutItem 0.919 -> 0.904 ms median (8x600, within the host's noise).

**Copied** (`Item.__deepcopy__`, `DynamoType.__deepcopy__`). moto deep-copies items often: an
UpdateItem twice (the response's old attributes, the model's old image for the stream), a
Query every item it returns. moto's own `__deepcopy__` methods skip pickle's protocol, but
each nested value still goes through `copy.deepcopy`'s dispatch (memo lookups, a getattr of
`__deepcopy__`, keep-alive bookkeeping): ~50 us for an order item here. `install()` copies
the tree in one recursion that does, per DynamoType of exactly that class, what moto's
method does (a new DynamoType with the same type; a list's or map's elements copied, a set's
list copied, any other value handed over) and keeps the same memo: a DynamoType met twice
(an item whose attributes share one value) is copied once and shared in the copy, as
`copy.deepcopy` does; anything else in a list or map (a value moto holds in another type)
goes through `copy.deepcopy` with that memo, as in moto's. The originals are alive for the
whole copy (the item holds them), so `copy`'s keep-alive list has nothing to do.

**Read, not copied** (`DynamoHandler.update_item`'s copy of the item). moto's UpdateItem
answer deep-copies the item before updating it, and reads one thing of that copy:
`to_json()["Attributes"]` (the old attributes, for UPDATED_OLD/UPDATED_NEW and the answer's
unchanged-attribute check). `to_json` builds new dicts and lists (above), so the item's
`to_json()` taken at that moment is the copy's, and the update cannot reach it. `install()`
gives moto.dynamodb.responses (whose only `copy` use is that one) a `copy.deepcopy` that
answers an Item with that reading instead of a copy; anything else is copied as before. The
model's own copy (the stream's old image) stays a copy.
"""

from __future__ import annotations

import base64
import copy
import threading
from types import SimpleNamespace
from typing import Any, cast

from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

_install_lock = threading.Lock()
_installed = False
moto_to_regular_json: Any = None  # moto's own, kept for comparison
moto_item_init: Any = None
moto_item_deepcopy: Any = None
moto_type_deepcopy: Any = None
_ITEM_SIZE_LIMIT = 405_000  # moto's (LimitedSizeDict.__setitem__)

_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None)})


def install() -> None:
    global _installed, moto_to_regular_json, moto_item_init  # noqa: PLW0603 - process-wide
    global moto_item_deepcopy, moto_type_deepcopy  # noqa: PLW0603
    with _install_lock:
        if _installed:
            return
        moto_to_regular_json = DynamoType.to_regular_json
        moto_item_init = Item.__init__
        moto_item_deepcopy = Item.__deepcopy__
        moto_type_deepcopy = DynamoType.__deepcopy__
        DynamoType.to_regular_json = to_regular_json  # type: ignore[method-assign]
        Item.__init__ = item_init  # type: ignore[method-assign]
        Item.__deepcopy__ = item_deepcopy  # type: ignore[method-assign]
        DynamoType.__deepcopy__ = type_deepcopy  # type: ignore[method-assign]
        dynamodb_responses.copy = SimpleNamespace(  # type: ignore[assignment]
            deepcopy=deepcopy_for_answer, copy=copy.copy
        )
        _installed = True


def item_init(
    self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
) -> None:
    """moto's `Item.__init__`, each attribute sized once (see the docstring)."""
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    held = 0  # what moto's __setitem__ sums over the attributes already set
    for key, value in attrs.items():
        wrapped = DynamoType(value)
        size = wrapped.size()
        if held + bytesize(key) + size > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, wrapped)
        held += bytesize(str(key)) + size


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


_SETS = frozenset({"SS", "NS", "BS"})


def item_deepcopy(self: Item, memo: dict[int, Any]) -> Item:
    """moto's `Item.__deepcopy__`, its values copied by `_copied` (see the docstring)."""
    if id(self) in memo:  # pragma: no cover - as moto's: items hold no cycles
        return memo[id(self)]
    result: Item = cast(Item, Item.__new__(type(self)))
    memo[id(self)] = result
    result.hash_key = _copied(self.hash_key, memo)
    result.range_key = _copied(self.range_key, memo)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs)
    for key, value in self.attrs.items():
        dict.__setitem__(attrs, key, _copied(value, memo))
    result.attrs = attrs
    return result


def type_deepcopy(self: DynamoType, memo: dict[int, Any]) -> DynamoType:
    """moto's `DynamoType.__deepcopy__`, nested values copied by `_copied`."""
    if id(self) in memo:  # pragma: no cover - as moto's
        return memo[id(self)]
    return _new_copy(self, memo)


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy(value, memo)`, at once for a DynamoType (of exactly that class)."""
    if type(value) is not DynamoType:
        return copy.deepcopy(value, memo)
    known = memo.get(id(value))
    if known is not None:
        return known
    return _new_copy(value, memo)


def _new_copy(value: DynamoType, memo: dict[int, Any]) -> DynamoType:
    result = DynamoType.__new__(type(value))
    memo[id(value)] = result
    kind = result.type = value.type
    held = value.value
    if kind == "L":
        result.value = [_copied(each, memo) for each in held]
    elif kind == "M":
        result.value = {key: _copied(each, memo) for key, each in held.items()}
    elif kind in _SETS:
        result.value = list(held)
    else:
        result.value = held
    return result


class ItemAsItWas:
    """What DynamoHandler.update_item reads of its copy of the item, read when the copy would
    have been made."""

    __slots__ = ("_json",)

    def __init__(self, item: Item) -> None:
        self._json = item.to_json()

    def to_json(self) -> dict[str, Any]:
        return self._json


def deepcopy_for_answer(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """`copy.deepcopy` for moto.dynamodb.responses: an Item's reading instead of a copy."""
    if type(value) is Item and memo is None:
        return ItemAsItWas(value)
    return copy.deepcopy(value, memo)
