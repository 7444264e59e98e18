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

**Answers written by a serializer compiled per operation.** Even with items written at once,
moto's serializer costs ~30 us for an empty PutItem answer and 50-150 us for a GetItem or a
Query here: per answer it builds a serializer (and an event-stream serializer) and an
attribute picker, and for every member of every structure it asks the picker, which tries the
member's aliases one by one (alias providers, each alias and its snake_case form), looked up
by `getattr` of a method name per node. `install()` answers a DynamoDB result (not an error)
with moto's JSON serializer's own steps compiled once per operation: each structure's members
in the shape's order, each looked up in the result's dict under the same candidate keys, in
the same order, that moto's `XFormedAttributePicker` tries for a dict (computed once by that
picker itself), then written as `JSONSerializer` writes its type (strings through `str()`,
enums by value, integers `int()`, doubles `float()`, blobs base64, lists through moto's
wrapper dict, maps written before they are filled, AttributeValues as above). The body is
`json.dumps` of that, indented when moto prettifies, with moto's Content-Type and status.
Anything it does not expect (an object where a dict is, a tuple where a list is, a timestamp,
a key path with a dot, a response transformer, another serializer class, an error) is
answered by moto's serializer as before, from the start.

**Results made plain at once** (`dynamo_to_dict`, which `DynamoResult` runs over every result
before it is serialized). moto's checks each node for a datetime, a DynamoType and a
`to_json` attribute before it looks at dicts and lists, importing DynamoType at every call.
For a node of exactly `dict`, `list`, `str`, `int`, `float`, `bool`, `bytes` or None those
checks are all false (none of them can carry a `to_json`), so here such nodes are recursed
or handed over at once, a DynamoType of exactly that class is expanded as moto expands it
(a `B` to bytes, decoded when held as base64 text, a `BS` likewise, any other type with its
value converted), and anything else goes to moto's function.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from moto import settings
from moto.core.responses import ActionContext
from moto.core.serialize import (
    AttributePickerContext,
    JSONSerializer,
    ResponseSerializer,
    XFormedAttributePicker,
)
from moto.core.utils import MISSING
from moto.dynamodb.models.dynamo_type import DynamoType
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


# ------------------------------------------------------------------ compiled answers
class _NotPlain(Exception):
    """Not what the compiled serializer expects: moto's serializer answers."""


Write = Callable[[dict[str, Any], Any, str], None]  # JSONSerializer._serialize(s, value, key)


def _name_of(shape: Any) -> Callable[[str], str]:
    """`get_serialized_name(shape, key)`."""
    serialization = shape.serialization
    if "name" in serialization:
        name = serialization["name"]
        return lambda key: name
    return lambda key: key


def _compile(shape: Any, operation_model: Any, known: dict[str, Write]) -> Write:
    if shape.name in known:
        return known[shape.name]
    slot: list[Write] = []

    def late(serialized: dict[str, Any], value: Any, key: str) -> None:
        slot[0](serialized, value, key)

    known[shape.name] = late
    write = _compile_new(shape, operation_model, known)
    slot.append(write)
    known[shape.name] = write
    return write


def _compile_new(shape: Any, operation_model: Any, known: dict[str, Write]) -> Write:
    name_of = _name_of(shape)
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, operation_model, known, name_of)
    if kind == "list":
        member = shape.member
        item_key = member.name
        write_item = _compile(member, operation_model, known)

        def list_(serialized: dict[str, Any], value: Any, key: str) -> None:
            if type(value) is not list:
                raise _NotPlain
            listed = []
            for item in value:
                wrapper: dict[str, Any] = {}
                write_item(wrapper, item, item_key)
                listed.append(wrapper.get(item_key, item))
            serialized[name_of(key)] = listed

        return list_
    if kind == "map":
        write_value = _compile(shape.value, operation_model, known)

        def map_(serialized: dict[str, Any], value: Any, key: str) -> None:
            if type(value) is not dict:
                raise _NotPlain
            mapped: dict[str, Any] = {}
            serialized[name_of(key)] = mapped
            for sub_key, sub_value in value.items():
                write_value(mapped, sub_value, sub_key)

        return map_
    if kind == "string":

        def string(serialized: dict[str, Any], value: Any, key: str) -> None:
            if isinstance(value, Enum):
                value = value.value
            serialized[name_of(key)] = str(value) if value not in [None, {}, []] else value

        return string
    if kind in ("integer", "long"):
        return lambda serialized, value, key: serialized.__setitem__(name_of(key), int(value))
    if kind in ("float", "double"):
        return lambda serialized, value, key: serialized.__setitem__(name_of(key), float(value))
    if kind == "blob":
        return lambda serialized, value, key: serialized.__setitem__(
            name_of(key), _base64(value.encode("utf-8") if isinstance(value, str) else value)
        )
    if kind == "timestamp":  # moto's TimestampSerializer (no item call answers one)

        def timestamp(serialized: dict[str, Any], value: Any, key: str) -> None:
            raise _NotPlain

        return timestamp
    return lambda serialized, value, key: serialized.__setitem__(name_of(key), value)


def _structure(
    shape: Any, operation_model: Any, known: dict[str, Write], name_of: Callable[[str], str]
) -> Write:
    if shape.is_document_type:

        def document(serialized: dict[str, Any], value: Any, key: str) -> None:
            serialized[key] = value

        return document
    if shape.name == "AttributeValue":

        def attribute_value(serialized: dict[str, Any], value: Any, key: str) -> None:
            wire = _plain(value) if key else None
            if wire is None:
                raise _NotPlain
            serialized[name_of(key)] = wire

        return attribute_value
    picker = XFormedAttributePicker(response_transformers={})
    members = []
    for member_key, member_shape in shape.members.items():
        member_shape.parent = shape  # as moto's _serialize_type_structure sets it
        context = AttributePickerContext(
            obj={},  # for a dict, the candidates depend on the shapes and the key alone
            key=member_key,
            shape=member_shape,
            operation_model=operation_model,
            service_model=operation_model.service_model,
        )
        candidates = tuple(picker.get_possible_keys(context))
        if any("." in candidate for candidate in candidates):
            raise _NotPlain  # moto's get_value walks a dotted path
        members.append((member_key, candidates, _compile(member_shape, operation_model, known)))

    def structure(serialized: dict[str, Any], value: Any, key: str) -> None:
        if value is None:
            return
        if type(value) is not dict:
            raise _NotPlain
        wrapper: dict[str, Any] = {} if key else serialized
        for member_key, candidates, write in members:
            for candidate in candidates:
                member_value = value.get(candidate, MISSING)
                if member_value is not MISSING:
                    break
            else:
                member_value = None
            if member_value is not None:
                write(wrapper, member_value, member_key)
        if key:
            serialized[name_of(key)] = wrapper

    return structure


@functools.lru_cache(maxsize=256)
def _answer_writer(operation_model: Any) -> Write | None:
    """The compiled serializer of an operation's output, or None: moto's answers it."""
    shape = operation_model.output_shape
    if shape is None or operation_model.has_event_stream_output:
        return None
    try:
        return _compile(shape, operation_model, {})
    except _NotPlain:
        return None


def compiled_answer(result: Any, context: ActionContext) -> tuple[int, dict[str, str], str] | None:
    """moto's JSONSerializer answer to a DynamoDB result, compiled; None where moto answers."""
    if (
        context.serializer_class is not JSONSerializer
        or isinstance(result, Exception)
        or getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
    ):
        return None
    operation_model = context.operation_model
    write = _answer_writer(operation_model)
    if write is None:
        return None
    serialized: dict[str, Any] = {}
    try:
        write(serialized, result, "")
    except Exception:  # not plain (or moto's serializer raises it too): moto answers
        return None
    body = json.dumps(serialized, indent=4 if settings.PRETTIFY_RESPONSES else None)
    version = operation_model.service_model.metadata.get("jsonVersion", "1.0")
    headers = {"Content-Type": JSONSerializer.APPLICATION_AMZ_JSON.format(version=version)}
    status = operation_model.http.get("responseCode", JSONSerializer.DEFAULT_RESPONSE_CODE)
    return status, headers, body


# ------------------------------------------------------------------ results made plain
_HANDED_OVER = frozenset({str, int, float, bool, bytes, type(None)})


def result_to_dict(obj: Any) -> Any:
    """moto's `dynamo_to_dict`, at once for builtin containers and values (see above)."""
    kind = type(obj)
    if kind is dict:
        return {key: result_to_dict(value) for key, value in obj.items()}
    if kind is list:
        return [result_to_dict(each) for each in obj]
    if kind in _HANDED_OVER:
        return obj
    if kind is DynamoType:
        if obj.type == "B":
            held = obj.value
            return {"B": held if isinstance(held, bytes) else base64.b64decode(held)}
        if obj.type == "BS":
            return {
                "BS": [
                    each if isinstance(each, bytes) else base64.b64decode(each)
                    for each in obj.value
                ]
            }
        return {obj.type: result_to_dict(obj.value)}
    return moto_dynamo_to_dict(obj)


moto_dynamo_to_dict: Any = None  # moto's own, set by install()


def _wrap(original: Any) -> Any:
    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        if type(self) is DynamoResult:
            answer = compiled_answer(self.result, context)
            if answer is not None:
                return answer
        plain = dataclasses.replace(
            context, serializer_class=_serializer_for(context.serializer_class)
        )
        return original(self, plain)

    setattr(execute_result, _MARK, True)
    execute_result.__wrapped__ = original  # type: ignore[attr-defined]
    return execute_result


def install() -> None:
    """Patch moto's DynamoDB results (idempotent)."""
    global moto_dynamo_to_dict  # noqa: PLW0603 - moto's module is process-wide
    from moto.dynamodb import responses

    with _install_lock:
        if getattr(DynamoResult.execute_result, _MARK, False):
            return
        DynamoResult.execute_result = _wrap(DynamoResult.execute_result)  # type: ignore[method-assign]
        moto_dynamo_to_dict = responses.dynamo_to_dict
        responses.dynamo_to_dict = result_to_dict
