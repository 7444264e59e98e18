"""TransactWriteItems without a copy of every table it touches.

moto's `DynamoDBBackend.transact_write_items` deep-copies each table a transaction names
(once per item, before it writes) so that it can put the copy back if the transaction is
cancelled. The copy grows with the table: in the 200-order burst of issue 8 it was 70% of
localcloud's CPU (py-spy), every DynamoDB request waiting behind it.

`install()` keeps moto's transaction logic (conditions, cancellation reasons, the order of
writes) and changes only how it undoes them: before the call, the items the transaction
names (their keys) and the length of each table's stream are remembered; moto's table
copies become the live tables themselves; if moto cancels the transaction, those items are
put back as they were (or removed, when they did not exist) and the stream records the
cancelled writes added are dropped. The end state is the one moto's own rollback leaves.
DynamoDB requests reach moto one at a time (localcloud.endpoint), so nothing else writes
in between.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_MARK = "_localcloud_item_rollback"
_state = threading.local()


@dataclass
class _Remembered:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # a copy of the item before the transaction; None: it did not exist

    def restore(self) -> None:
        items: Any = self.table.items
        if self.range_key is not None:
            if self.item is None:
                items.get(self.hash_key, {}).pop(self.range_key, None)
            else:
                items[self.hash_key][self.range_key] = self.item
        elif self.item is None:
            items.pop(self.hash_key, None)
        else:
            items[self.hash_key] = self.item


def _remember(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Remembered]:
    """The items the transaction names, as they are now. An entry moto will refuse (no such
    table, a key missing) is skipped: moto writes nothing for it."""
    remembered = []
    for entry in transact_items:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        name = op.get("TableName") if isinstance(op, dict) else None
        table = backend.tables.get(name) if isinstance(name, str) else None
        if table is None:
            continue
        try:
            key = _key_attributes(table, op_type, op)
        except (TypeError, AttributeError, KeyError, ValueError):
            key = None  # malformed: moto refuses it and writes nothing for it
        if key is None:
            continue
        hash_key, range_key = key
        current = table.get_item(hash_key, range_key)
        remembered.append(
            _Remembered(table, hash_key, range_key, copy.deepcopy(current) if current else None)
        )
    return remembered


def _key_attributes(
    table: Table, op_type: str, op: dict[str, Any]
) -> tuple[DynamoType, DynamoType | None] | None:
    attributes = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return None
    range_attr = table.range_key_attr
    if range_attr is not None and range_attr not in attributes:
        return None
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[range_attr]) if range_attr is not None else None
    return hash_key, range_key


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy, except that moto's transaction backup of a table is the table itself
    while a transaction runs on this thread (its rollback then puts back the live table)."""
    if isinstance(value, Table) and getattr(_state, "active", False):
        return value
    return copy.deepcopy(value, memo)


@contextmanager
def _tables_not_copied() -> Iterator[None]:
    _state.active = True
    try:
        yield
    finally:
        _state.active = False


def _wrap(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        remembered = _remember(self, transact_items)
        streams = {
            id(r.table): (r.table.stream_shard, len(r.table.stream_shard.items))
            for r in remembered
            if r.table.stream_shard is not None
        }
        try:
            with _tables_not_copied():
                original(self, transact_items)
        except Exception:
            for entry in reversed(remembered):  # the first one remembered is the original
                entry.restore()
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    setattr(transact_write_items, _MARK, True)
    transact_write_items.__doc__ = original.__doc__
    return transact_write_items


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    if getattr(DynamoDBBackend.transact_write_items, _MARK, False):
        return
    # moto's module refers to `copy.deepcopy`; give it one that leaves tables alone while a
    # transaction runs (everything else is still deep-copied).
    dynamodb_models.copy = SimpleNamespace(  # type: ignore[assignment]
        deepcopy=_deepcopy_but_tables, copy=copy.copy
    )
    DynamoDBBackend.transact_write_items = _wrap(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )
