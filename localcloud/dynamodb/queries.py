"""Query reads one partition, not a sorted copy of the whole table.

moto's `Table.query` starts from `Table.all_items()`: a list of every item in the table,
sorted by (hash key, range key) with DynamoType comparisons (a Decimal or str made per
comparison), on every call. It then keeps the items of the queried partition and sorts them
again. On AWS a Query reads one partition; here its cost grew with the table (8 ms per
Query on a table of 2,000 items in 200 partitions, a few % of localcloud's CPU in the
200-order burst of issue 8, and more the longer `make run` runs).

`install()` keeps moto's query (key conditions, ExclusiveStartKey, Limit and the 1 MB page,
ScanIndexForward, filters, projections, its errors) and changes only what `all_items()`
answers to the one call a query makes, on the thread that makes it:

- a query on the table's key: the queried partition's items, `self.items.get(hash_key)`
  (moto's `items` is a defaultdict: a lookup must not create an entry), in range-key order.
  moto keeps exactly these items (`item.hash_key == hash_key`; DynamoType's hash and
  equality agree, so the dict lookup finds the same partition).
- a query on an index: every item, unsorted. moto sorts the items an index query keeps by
  (index keys, table keys), a total order (the table keys are unique), so the order they
  arrive in never shows; only the whole-table sort is saved. When the index's partition key
  is the table's (a local secondary index), only that partition's items are read. Other
  global secondary indexes still look at every item (AWS keeps an index of its own; here
  that would mean maintaining one on every write), but an item whose string partition key
  differs is dropped by comparing the strings, before moto compares DynamoTypes: moto keeps
  an item only when its value has the same type and an equal value (for S, the string).

Everything else that calls `all_items()` (Scan, exports, `moto_api` views) gets moto's
answer. A query whose hash key is missing goes to moto unchanged (it fails as moto fails).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_MARK = "_localcloud_partition_query"
_install_lock = threading.Lock()
_state = threading.local()  # the query running on this thread, if any


@dataclass(frozen=True)
class _Scope:
    """What the next `all_items()` of `table` on this thread answers."""

    table: Table
    hash_key: DynamoType | None  # one partition; None: every item, unsorted
    ordered: bool  # in range-key order (a table query) or any order (an index query)
    strings: tuple[tuple[str, str], ...] = ()  # (attribute, S value) an item must have


def _scope_of(
    table: Table, hash_key: DynamoType | None, index_name: str | None, kwargs: dict[str, Any]
) -> _Scope | None:
    if not index_name:
        return None if hash_key is None else _Scope(table, hash_key, ordered=True)
    # An index: narrowed to one partition when the index's partition key is the table's.
    conditions = kwargs.get("hash_key_conditions") or ()
    for name, value in conditions:
        if name == table.hash_key_attr:
            return _Scope(table, value, ordered=False)
    strings = tuple(
        (name, value.value)
        for name, value in conditions
        if isinstance(value, DynamoType) and value.type == "S" and isinstance(value.value, str)
    )
    return _Scope(table, None, ordered=False, strings=strings)


def _partition(table: Table, scope: _Scope) -> list[Item]:
    partitions: Any = table.items  # {hash: Item}, or {hash: {range: Item}} with a range key
    if scope.hash_key is None:
        if table.range_key_attr is None:
            every = list(partitions.values())
        else:
            every = [item for partition in partitions.values() for item in partition.values()]
        return [item for item in every if _has_strings(item, scope.strings)]
    found = partitions.get(scope.hash_key)
    if found is None:
        return []
    if table.range_key_attr is None:
        return [found] if isinstance(found, Item) else []
    items: list[Item] = list(found.values())
    if scope.ordered:
        items.sort(key=_range_key)
    return items


def _has_strings(item: Any, strings: tuple[tuple[str, str], ...]) -> bool:
    if not strings or not isinstance(item, Item):
        return True  # moto decides
    for name, expected in strings:
        value = item.attrs.get(name)
        if value is None or value.type != "S" or value.value != expected:
            return False
    return True


def _range_key(item: Item) -> Any:
    return item.range_key


def _wrap_query(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes index_name as the 7th argument after hash_key.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        scope = _scope_of(self, hash_key, index_name, kwargs)
        if scope is None:
            return original(self, hash_key, *args, **kwargs)
        outer = getattr(_state, "scope", None)
        _state.scope = scope
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _state.scope = outer

    setattr(query, _MARK, True)
    return query


def _wrap_all_items(original: Callable[[Table], list[Item]]) -> Callable[[Table], list[Item]]:
    @wraps(original)
    def all_items(self: Table) -> list[Item]:
        scope: _Scope | None = getattr(_state, "scope", None)
        if scope is None or scope.table is not self:
            return original(self)
        _state.scope = None  # only the query's own first call is narrowed
        return _partition(self, scope)

    return all_items


def install() -> None:
    """Patch moto's Table (idempotent)."""
    with _install_lock:
        if getattr(Table.query, _MARK, False):
            return
        Table.all_items = _wrap_all_items(Table.all_items)  # type: ignore[method-assign,assignment]
        Table.query = _wrap_query(Table.query)  # type: ignore[method-assign]
