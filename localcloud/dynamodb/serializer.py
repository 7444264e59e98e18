"""DynamoDB's items written to the wire without walking botocore's model for every value.

moto answers DynamoDB with its model-driven serializer: for each AttributeValue of each item it
looks up all ten members of botocore's `AttributeValue` shape by name (and by each alias its
attribute picker knows), then serializes the one present by its shape's type, recursively
through maps and lists. For an order-sized item that was half of a GetItem's CPU here
(2.0 -> 1.1 ms through the in-process client), and a Query of six such items 7.7 -> 2.2 ms:
the largest single cost left in localcloud's DynamoDB calls.

`install()` keeps moto's serializer for everything (the response's framing and headers,
Count, ConsumedCapacity, errors, every other service) and answers only an AttributeValue
whose wire form is plain: one member, `S`/`N` a str, `BOOL`/`NULL` a bool, `B` bytes (moto
hands blobs over as bytes, base64-encoded here as its serializer does), `SS`/`NS` a list of
str, `BS` a list of bytes, `M`/`L` of such values. Anything else (a value moto holds in
another type, an empty or ambiguous one) goes to moto's serializer as before. A test compares
both serializers' answers for every type, nested, in GetItem, Query, Scan, BatchGetItem,
TransactGetItems and the writes' ReturnValues. One difference, on purpose: moto's serializer
takes an empty map key ("") for "no key" and writes that value's members into the map itself;
here the key stays.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
from typing import Any

from moto.core.responses import ActionContext
from moto.core.serialize import ResponseSerializer
from moto.dynamodb.responses import DynamoResult

_MARK = "_localcloud_plain_items"
_install_lock = threading.Lock()
_serializers: dict[type[ResponseSerializer], type[ResponseSerializer]] = {}


def _plain(value: Any) -> Any:
    """The wire form of a plain AttributeValue (as moto's serializer writes it), else None."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, member),) = value.items()
    if kind in ("S", "N"):
        return value if type(member) is str else None
    if kind in ("BOOL", "NULL"):
        return value if type(member) is bool else None
    if kind == "B":
        return {"B": _base64(member)} if type(member) is bytes else None
    if kind in ("SS", "NS"):
        plain = type(member) is list and all(type(each) is str for each in member)
        return {kind: list(member)} if plain else None
    if kind == "BS":
        plain = type(member) is list and all(type(each) is bytes for each in member)
        return {"BS": [_base64(each) for each in member]} if plain else None
    if kind == "L" and type(member) is list:
        items = [_plain(each) for each in member]
        return None if any(each is None for each in items) else {"L": items}
    if kind == "M" and type(member) is dict:
        entries = {name: _plain(each) for name, each in member.items()}
        return None if any(each is None for each in entries.values()) else {"M": entries}
    return None


def wire_form(value: Any) -> dict[str, Any] | None:
    """An AttributeValue as moto holds it (`Item.to_json`), in the wire form moto's serializer
    writes (a blob base64-encoded), in new dicts and lists; None when it is not plain."""
    wire = _plain(value)
    return dict(wire) if wire is value else wire


def _base64(value: bytes) -> str:
    return base64.b64encode(value).strip().decode("utf-8")


def _serializer_for(moto_serializer: type[ResponseSerializer]) -> type[ResponseSerializer]:
    """moto's serializer class, but writing a plain AttributeValue at once."""
    known = _serializers.get(moto_serializer)
    if known is not None:
        return known

    class PlainItemsSerializer(moto_serializer):  # type: ignore[valid-type,misc]
        def _serialize_type_structure(
            self, serialized: Any, value: Any, shape: Any, key: str
        ) -> None:
            if shape.name == "AttributeValue" and key:
                wire = _plain(value)
                if wire is not None:
                    self._default_serialize(serialized, wire, shape, key)
                    return
            super()._serialize_type_structure(serialized, value, shape, key)

    _serializers[moto_serializer] = PlainItemsSerializer
    return PlainItemsSerializer


def _wrap(original: Any) -> Any:
    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        plain = dataclasses.replace(
            context, serializer_class=_serializer_for(context.serializer_class)
        )
        return original(self, plain)

    setattr(execute_result, _MARK, True)
    execute_result.__wrapped__ = original  # type: ignore[attr-defined]
    return execute_result


def install() -> None:
    """Patch moto's DynamoDB results (idempotent)."""
    with _install_lock:
        if getattr(DynamoResult.execute_result, _MARK, False):
            return
        DynamoResult.execute_result = _wrap(DynamoResult.execute_result)  # type: ignore[method-assign]
