"""localcloud's DynamoType.to_regular_json (localcloud.dynamodb.items) answers what moto's does:
the same JSON for every AttributeValue type, nested, sharing nothing with the stored item; and
the same writes, read back and streamed, give the same answers and records with either."""

from __future__ import annotations

import base64
import copy
import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import table as moto_table
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from localcloud.dynamodb import items, patches
from localcloud.spec import REGION
from tests.support.values import scribble

TABLE = "Items"
SCALARS: list[dict[str, Any]] = [
    {"S": "text"},
    {"S": ""},
    {"N": "12.50"},
    {"B": b"\x00\x01bytes"},
    {"B": base64.b64encode(b"held as str").decode()},  # moto may hold a blob as base64 text
    {"BOOL": True},
    {"NULL": True},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2.5"]},
    {"BS": [b"x", b"y"]},
]


def _nested(depth: int) -> dict[str, Any]:
    """A map holding every scalar, a list of them, and (depth permitting) itself again."""
    value: dict[str, Any] = {f"v{i}": scalar for i, scalar in enumerate(SCALARS)}
    value["list"] = {"L": [*SCALARS, {"L": []}, {"M": {}}]}
    if depth:
        value["deeper"] = _nested(depth - 1)
        value["lines"] = {"L": [_nested(depth - 1), _nested(depth - 1)]}
    return {"M": value}


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    patches.install()


def _with_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoType, "to_regular_json", items.moto_to_regular_json)
    monkeypatch.setattr(Item, "__init__", items.moto_item_init)
    monkeypatch.setattr(Item, "__deepcopy__", items.moto_item_deepcopy)
    monkeypatch.setattr(DynamoType, "__deepcopy__", items.moto_type_deepcopy)
    monkeypatch.setattr(dynamodb_responses, "copy", copy)


def test_every_value_type_nested_converts_as_moto_converts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an item with every AttributeValue type at three levels of maps and lists, and a
    # value moto may hold in another type (a Decimal from arithmetic)
    attrs = {"pk": {"S": "k"}, "tree": _nested(3), **{f"s{i}": s for i, s in enumerate(SCALARS)}}
    item = Item(DynamoType({"S": "k"}), None, attrs)
    item.attrs["decimal"] = DynamoType({"N": "1"})
    item.attrs["decimal"].value = Decimal("1.5")
    item.attrs["inlist"] = DynamoType({"L": [{"N": "1"}]})
    item.attrs["inlist"].value.append(Decimal("2"))  # not a DynamoType: copied as it is
    stored = copy.deepcopy(item)
    plain = Item(DynamoType({"S": "k"}), None, attrs)  # boto3's deserializer takes it
    # When it is converted with localcloud's conversion, then with moto's
    ours = item.to_json()
    regular_ours = plain.to_regular_json()
    _with_moto(monkeypatch)
    motos = item.to_json()
    regular_motos = plain.to_regular_json()
    # Then both give the same JSON, leaf types included (bytes stay bytes, a str blob is
    # decoded)
    assert ours == motos
    assert regular_ours == regular_motos
    assert repr(ours) == repr(motos)
    assert ours["Attributes"]["tree"]["M"]["v4"] == {"B": b"held as str"}
    # and changing every container of the answer leaves the stored item as it was
    scribble(ours)
    assert item.to_json() == stored.to_json()


STREAMED_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("put_item", {"Item": {"pk": {"S": "o1"}, "tree": _nested(2)}}),
    (
        "update_item",
        {
            "Key": {"pk": {"S": "o1"}},
            "UpdateExpression": "SET tree.deeper.v0 = :s, #ln = list_append(tree.#l, :l)",
            "ExpressionAttributeNames": {"#ln": "lines", "#l": "list"},
            "ExpressionAttributeValues": {":s": {"S": "changed"}, ":l": {"L": [_nested(1)]}},
            "ReturnValues": "ALL_OLD",
        },
    ),
    (
        "update_item",
        {
            "Key": {"pk": {"S": "o1"}},
            "UpdateExpression": "REMOVE tree.deeper.#ln[0] SET n = :n",
            "ExpressionAttributeNames": {"#ln": "lines"},
            "ExpressionAttributeValues": {":n": {"M": {"a": {"L": [{"B": b"\x02"}]}}}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    (
        "update_item",
        {
            "Key": {"pk": {"S": "o1"}},
            "UpdateExpression": "SET tree.nope.x = :n",  # refused: no such path
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        },
    ),
    (
        "put_item",
        {
            "Item": {"pk": {"S": "o1"}},
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    ("get_item", {"Key": {"pk": {"S": "o1"}}}),
    (
        "query",
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "o1"}}},
    ),
    ("delete_item", {"Key": {"pk": {"S": "o1"}}, "ReturnValues": "ALL_OLD"}),
]


def _run(
    monkeypatch: pytest.MonkeyPatch, requests: list[tuple[str, dict[str, Any]]] | None = None
) -> list[Any]:
    """Each request twice; every answer (or error), then the stream's records (made at one
    fixed time: a record's SizeBytes counts its creation time's text)."""
    at = datetime.datetime(2026, 12, 2, 5, 0, 0, 123456)
    monkeypatch.setattr(moto_table, "utcnow", lambda: at)
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        streams: Any = boto3.client("dynamodbstreams", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        answers: list[Any] = []
        for op, request in STREAMED_REQUESTS if requests is None else requests:
            for _ in range(2):
                try:
                    answer = getattr(dynamodb, op)(TableName=TABLE, **request)
                    answer.pop("ResponseMetadata", None)
                    answers.append(answer)
                except ClientError as error:
                    answers.append((error.response["Error"], error.response.get("Item")))
        arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        for record in records:  # a random id per record
            record.pop("eventID")
        answers.append(records)
        return answers


def test_writes_answer_and_stream_the_same_with_either_conversion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given nested writes, good and refused, run with localcloud's conversion
    ours = _run(monkeypatch)
    # When they run again with moto's
    _with_moto(monkeypatch)
    motos = _run(monkeypatch)
    # Then every answer, error, old and new image is the same
    assert len(ours) == len(motos) == 2 * len(STREAMED_REQUESTS) + 1
    for index, (mine, theirs) in enumerate(zip(ours, motos, strict=True)):
        assert mine == theirs, f"answer {index}"
    events = [record["eventName"] for record in ours[-1]]
    assert events == ["INSERT", "MODIFY", "MODIFY", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]
    assert any(isinstance(answer, tuple) for answer in ours), "a refusal was compared"


def _made(attrs: dict[str, Any]) -> Any:
    """The item's attributes as made (class, order, types and values), or the refusal."""
    try:
        item = Item(DynamoType({"S": "k"}), None, attrs)
    except ItemSizeTooLarge as refused:
        return ("refused", type(refused), str(refused))
    return (
        type(item.attrs),
        [(key, type(value), value.type, repr(value)) for key, value in item.attrs.items()],
    )


def test_items_are_made_as_moto_makes_them_and_refused_at_the_same_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given items of every type, nested, and items around moto's 405,000-byte limit: exactly
    # at it, one byte past it, past it at the fifth attribute, past it with a nested map
    cases: list[dict[str, Any]] = [
        {"pk": {"S": "k"}, "tree": _nested(2), **{f"s{i}": s for i, s in enumerate(SCALARS)}},
        {},
        {"a": {"S": "x" * 300_000}, "b": {"S": "y" * 104_998}},  # 405,000
        {"a": {"S": "x" * 300_000}, "b": {"S": "y" * 104_999}},  # 405,001
        {key: {"S": "z" * 100_000} for key in "abcde"},
        {"a": {"M": {"big": {"S": "x" * 300_000}}}, "é": {"L": [{"S": "y" * 104_996}]}},
        {"n": {"N": "1" * 38}, "m": {"M": {"k": {"NS": ["1", "22"]}, "b": {"BS": [b"abc"]}}}},
    ]
    # When each is made twice with localcloud's Item.__init__, then with moto's
    ours = [_made(attrs) for attrs in cases for _ in range(2)]
    _with_moto(monkeypatch)
    motos = [_made(attrs) for attrs in cases for _ in range(2)]
    # Then every item, and every refusal, is the same
    assert ours == motos
    refused = [made[0] == "refused" for made in ours[::2]]
    assert refused == [False, False, False, True, True, True, False]


def _graph(item: Item) -> Any:
    """The copy's object graph: each DynamoType numbered where first met (so a value shared
    by two attributes shows as one number twice), with its class, type and value; any other
    object by class and value."""
    seen: dict[int, int] = {}

    def node(value: Any) -> Any:
        if isinstance(value, DynamoType):
            if id(value) in seen:
                return ("seen", seen[id(value)])
            seen[id(value)] = len(seen)
            held = value.value
            if isinstance(held, list):
                inner: Any = ("list", [node(each) for each in held])
            elif isinstance(held, dict):
                inner = ("dict", {key: node(each) for key, each in held.items()})
            else:
                inner = (type(held).__name__, held)
            return (type(value).__name__, seen[id(value)], value.type, inner)
        if isinstance(value, dict):
            return ("plain dict", {key: node(each) for key, each in value.items()})
        return (type(value).__name__, repr(value))

    return (
        type(item).__name__,
        type(item.attrs).__name__,
        node(item.hash_key),
        node(item.range_key),
        [(key, node(value)) for key, value in item.attrs.items()],
    )


def _objects(value: Any) -> list[Any]:
    """Every DynamoType and container in an item (not the immutable leaves)."""
    if isinstance(value, Item):
        return [value, value.attrs, *_objects(value.hash_key), *_objects(value.range_key)] + [
            each for attribute in value.attrs.values() for each in _objects(attribute)
        ]
    if isinstance(value, DynamoType):
        return [value, *_objects(value.value)]
    if isinstance(value, list):
        return [value] + [each for element in value for each in _objects(element)]
    if isinstance(value, dict):
        return [value] + [each for element in value.values() for each in _objects(element)]
    return []


def test_items_are_copied_as_moto_copies_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given items of every type nested three levels, one whose attributes share a value (and
    # a list that holds it twice), one with values moto may hold in other types, one with a
    # range key
    attrs = {"pk": {"S": "k"}, "tree": _nested(3), **{f"s{i}": s for i, s in enumerate(SCALARS)}}
    nested = Item(DynamoType({"S": "k"}), None, attrs)
    shared = Item(DynamoType({"S": "k"}), None, {"a": {"M": {"x": {"N": "1"}}}})
    shared.attrs["b"] = shared.attrs["a"]
    shared.attrs["c"] = DynamoType({"L": []})
    shared.attrs["c"].value.extend([shared.attrs["a"], shared.attrs["a"]])
    other = Item(DynamoType({"N": "1"}), DynamoType({"S": "r"}), {"d": {"L": [{"N": "1"}]}})
    other.attrs["n"] = DynamoType({"N": "1"})
    other.attrs["n"].value = Decimal("1.5")
    other.attrs["d"].value.extend([Decimal("2.5"), {"plain": [1, 2]}])
    cases = [nested, shared, other]
    # When each is deep-copied with localcloud's copy, then with moto's
    ours = [copy.deepcopy(item) for item in cases]
    _with_moto(monkeypatch)
    motos = [copy.deepcopy(item) for item in cases]
    # Then the copies are the same graphs (classes, types, values, what is shared), and no
    # DynamoType or container of a copy is one of the original's
    assert [_graph(each) for each in ours] == [_graph(each) for each in motos]
    assert _graph(ours[1])[4][1][1] == ("seen", 1)  # "b" is "a", copied once
    for original, ours_copy in zip(cases, ours, strict=True):
        originals = {id(each) for each in _objects(original)}
        assert not originals & {id(each) for each in _objects(ours_copy)}


UPDATES: list[tuple[str, dict[str, Any]]] = [
    ("put_item", {"Item": {"pk": {"S": "u"}, "tree": _nested(1), "n": {"N": "1"}}}),
    *[
        (
            "update_item",
            {
                "Key": {"pk": {"S": "u"}},
                "UpdateExpression": expression,
                "ExpressionAttributeValues": values,
                "ReturnValues": returned,
            },
        )
        for returned in ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
        for expression, values in [
            ("SET n = n + :one, tree.list = list_append(tree.list, :l)",
             {":one": {"N": "1"}, ":l": {"L": [{"S": "more"}]}}),
            ("ADD tags :t REMOVE tree.v0", {":t": {"SS": ["a", "b"]}}),
            ("SET tree.deeper.v1 = :s", {":s": {"S": "deep"}}),
        ]
    ],
    (  # a new item: there was nothing to copy
        "update_item",
        {
            "Key": {"pk": {"S": "new"}},
            "UpdateExpression": "SET a = :a",
            "ExpressionAttributeValues": {":a": {"M": {"x": {"L": [{"N": "1"}]}}}},
            "ReturnValues": "UPDATED_OLD",
        },
    ),
    (  # refused: the old item comes back with the error
        "update_item",
        {
            "Key": {"pk": {"S": "u"}},
            "UpdateExpression": "SET a = :a",
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": {":a": {"S": "x"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
]  # fmt: skip


def test_updates_answer_and_stream_as_moto_copies_answer_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given nested updates with every ReturnValues, on an item, a new item and refused,
    # answered with localcloud's reading of the item before each update
    ours = _run(monkeypatch, UPDATES)
    # When they run again with moto's copies
    _with_moto(monkeypatch)
    motos = _run(monkeypatch, UPDATES)
    # Then every answer, error and stream record is the same
    assert len(ours) == len(motos) == 2 * len(UPDATES) + 1
    for index, (mine, theirs) in enumerate(zip(ours, motos, strict=True)):
        assert mine == theirs, f"answer {index}"
    assert any("Attributes" in answer for answer in ours if isinstance(answer, dict))
