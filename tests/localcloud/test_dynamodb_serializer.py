"""DynamoDB answers written by localcloud.dynamodb.serializer are the answers moto's own
serializer writes: the same body and Content-Type, for items of every AttributeValue type,
nested, in every operation that returns items."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.responses import DynamoResult
from werkzeug.test import Client

from localcloud.dynamodb import serializer
from localcloud.endpoint.server import AwsEndpoint
from localcloud.spec import REGION

TABLE = "SerializerItems"
AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)

_text = st.text(alphabet='abcé€ "\\/\n0', max_size=6)
_number = st.sampled_from(["0", "-1", "1.5", "1e3", "12345678901234567890", "0.000001"])
_blob = st.binary(max_size=6).map(lambda b: {"B": base64.b64encode(b).decode()})
_scalars = st.one_of(
    _text.map(lambda s: {"S": s}),
    _number.map(lambda n: {"N": n}),
    _blob,
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(_text, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    st.lists(st.sampled_from(["1", "2.5", "-3"]), min_size=1, max_size=3, unique=True).map(
        lambda v: {"NS": v}
    ),
    st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=3, unique=True).map(
        lambda v: {"BS": [base64.b64encode(b).decode() for b in v]}
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(_text.filter(bool), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)
_items = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _values, max_size=4)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Client]:
    serializer.install()
    client = Client(AwsEndpoint(runtime=None, status=dict).wsgi_app)
    call(
        client,
        "CreateTable",
        {
            "TableName": TABLE,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    yield client
    call(client, "DeleteTable", {"TableName": TABLE})


def call(client: Client, operation: str, body: dict[str, Any]) -> tuple[int, str, Any]:
    response = client.post(
        "/",
        data=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Authorization": AUTHORIZATION,
        },
    )
    return response.status_code, response.headers["Content-Type"], json.loads(response.get_data())


def raw(client: Client, operation: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    """Status, Content-Type and body bytes (key order included) of an answer."""
    response = client.post(
        "/",
        data=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Authorization": AUTHORIZATION,
        },
    )
    return response.status_code, response.headers["Content-Type"], response.get_data()


def both(client: Client, operation: str, body: dict[str, Any]) -> tuple[Any, Any]:
    """The answer with localcloud's serializer, and with moto's alone; and the compiled
    serializer's bytes are those of the serializer it compiles (checked here)."""
    ours = call(client, operation, body)
    with pytest.MonkeyPatch.context() as uncompiled:
        compiled = raw(client, operation, body)
        uncompiled.setattr(serializer, "compiled_answer", lambda result, context: None)
        assert raw(client, operation, body) == compiled, operation
    with pytest.MonkeyPatch.context() as unpatched:
        moto_execute = DynamoResult.execute_result.__wrapped__  # type: ignore[attr-defined]
        unpatched.setattr(DynamoResult, "execute_result", moto_execute)
        motos = call(client, operation, body)
    return ours, motos


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=st.lists(_items, min_size=1, max_size=3))
def test_items_are_written_as_motos_serializer_writes_them(
    endpoint: Client, items: list[dict[str, Any]]
) -> None:
    # Given items of every AttributeValue type, nested, in one partition
    keyed = [{**item, "pk": {"S": "p"}, "sk": {"N": str(n)}} for n, item in enumerate(items)]
    for item in keyed:
        call(endpoint, "PutItem", {"TableName": TABLE, "Item": item})
    key = {"pk": {"S": "p"}, "sk": {"N": "0"}}
    requests: list[tuple[str, dict[str, Any]]] = [
        ("GetItem", {"TableName": TABLE, "Key": key}),
        ("GetItem", {"TableName": TABLE, "Key": {**key, "sk": {"N": "99"}}}),
        (
            "Query",
            {
                "TableName": TABLE,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "p"}},
                "Limit": 2,
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        ("Scan", {"TableName": TABLE}),
        ("BatchGetItem", {"RequestItems": {TABLE: {"Keys": [key]}}}),
        ("PutItem", {"TableName": TABLE, "Item": keyed[0], "ReturnValues": "ALL_OLD"}),
        (
            "UpdateItem",
            {
                "TableName": TABLE,
                "Key": key,
                "UpdateExpression": "SET z = :z",
                "ExpressionAttributeValues": {":z": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": key}}]}),
    ]
    # When each operation is answered, Then the body, status and Content-Type are moto's
    for operation, body in requests:
        ours, motos = both(endpoint, operation, body)
        assert ours == motos, operation
    for item in keyed:
        call(
            endpoint, "DeleteItem", {"TableName": TABLE, "Key": {k: item[k] for k in ("pk", "sk")}}
        )


def test_only_plain_values_are_written_at_once() -> None:
    # Given values moto holds as the wire has them, and ones it might hold otherwise
    plain = {"M": {"a": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x00"}, {"BOOL": False}]}}}
    odd = [{"S": 1}, {"N": None}, {"S": "x", "N": "1"}, {}, {"L": [{"S": 1}]}, {"BS": ["x"]}]

    # Then the plain one is written here, base64 for bytes, and the others left to moto
    assert serializer._plain(plain) == {
        "M": {"a": {"L": [{"S": "x"}, {"N": "1"}, {"B": "AA=="}, {"BOOL": False}]}}
    }
    assert [serializer._plain(value) for value in odd] == [None] * len(odd)


def test_a_map_key_that_is_empty_stays_a_key() -> None:
    # moto's serializer takes an empty map key for "no key" and writes the value's members
    # into the map itself ({"M": {"B": ""}}); here it stays the key it was.
    assert serializer._plain({"M": {"": {"S": "x"}}}) == {"M": {"": {"S": "x"}}}


def test_every_item_call_answers_moto_bytes(endpoint: Client) -> None:
    # Given an item, and calls of every item operation with their return options, good and
    # refused (an error is moto's answer either way)
    key = {"pk": {"S": "q"}, "sk": {"N": "1"}}
    item = {**key, "m": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}}}, "b": {"B": "AAE="}}
    call(endpoint, "PutItem", {"TableName": TABLE, "Item": item})
    requests: list[tuple[str, dict[str, Any]]] = [
        ("PutItem", {"TableName": TABLE, "Item": item, "ReturnConsumedCapacity": "INDEXES"}),
        (
            "PutItem",
            {
                "TableName": TABLE,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ),
        ("GetItem", {"TableName": TABLE, "Key": key, "ReturnConsumedCapacity": "TOTAL"}),
        ("GetItem", {"TableName": "NoSuchTable", "Key": key}),
        (
            "UpdateItem",
            {
                "TableName": TABLE,
                "Key": key,
                "UpdateExpression": "SET n = :one",  # the same answer each time
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
                "ReturnItemCollectionMetrics": "SIZE",
            },
        ),
        (
            "Query",
            {
                "TableName": TABLE,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "q"}},
                "Select": "COUNT",
            },
        ),
        ("Scan", {"TableName": TABLE, "Limit": 1}),
        (
            "BatchWriteItem",
            {"RequestItems": {TABLE: [{"PutRequest": {"Item": {**item, "sk": {"N": "2"}}}}]}},
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {
                        "ConditionCheck": {
                            "TableName": TABLE,
                            "Key": key,
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ],
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {
                        "ConditionCheck": {
                            "TableName": TABLE,
                            "Key": key,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            },
        ),
        (
            "DeleteItem",
            {"TableName": TABLE, "Key": {**key, "sk": {"N": "2"}}, "ReturnValues": "ALL_OLD"},
        ),
        ("DescribeTable", {"TableName": TABLE}),
    ]

    def reset() -> None:  # the same table before each answer
        for sk in ("1", "2"):
            call(endpoint, "PutItem", {"TableName": TABLE, "Item": {**item, "sk": {"N": sk}}})

    # When each is answered with the compiled serializer and without it
    for operation, body in requests:
        reset()
        compiled = raw(endpoint, operation, body)
        with pytest.MonkeyPatch.context() as uncompiled:
            uncompiled.setattr(serializer, "compiled_answer", lambda result, context: None)
            reset()
            theirs = raw(endpoint, operation, body)
        # Then status, Content-Type and body bytes are the same
        assert compiled == theirs, operation
    for sk in ("1", "2"):
        call(endpoint, "DeleteItem", {"TableName": TABLE, "Key": {**key, "sk": {"N": sk}}})


def test_answers_the_compiled_serializer_does_not_expect_are_moto_answers() -> None:
    # Given results that are not plain: an object where a dict is, a tuple where a list is,
    # a value of another type inside an item
    from moto.core import responses

    class Context:
        RESPONSE_KEY_PATH_TO_TRANSFORMER: dict[str, Any] = {}

    handler: Any = Context()

    model = responses.get_service_model("dynamodb")
    for operation, result in [
        ("GetItem", {"Item": {"a": {"S": 1}}}),
        ("Query", {"Items": ({"a": {"S": "x"}},), "Count": 1}),
        ("GetItem", type("Answer", (), {"Item": {}})()),
    ]:
        context = responses.ActionContext(
            model, model.operation_model(operation), serializer.JSONSerializer, handler
        )
        # When the compiled serializer is asked, Then it leaves each to moto's
        assert serializer.compiled_answer(result, context) is None
    plain = responses.ActionContext(
        model, model.operation_model("GetItem"), serializer.JSONSerializer, handler
    )
    assert serializer.compiled_answer({"Item": {"a": {"S": "x"}}}, plain) == (
        200,
        {"Content-Type": "application/x-amz-json-1.0"},
        '{"Item": {"a": {"S": "x"}}}',
    )


_result_keys = st.sampled_from(
    [
        "Item", "item", "Items", "Count", "count", "ScannedCount", "scanned_count",
        "ConsumedCapacity", "consumed_capacity", "TableName", "table_name", "CapacityUnits",
        "capacity_units", "Table", "GlobalSecondaryIndexes", "LastEvaluatedKey",
        "last_evaluated_key", "Attributes", "Responses", "UnprocessedKeys", "Keys",
        "ItemCollectionMetrics", "SizeEstimateRangeGB", "ItemCollectionKey", "a", "S", "N",
    ]
)  # fmt: skip
_result_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=4),
        st.sampled_from([{"S": "x"}, {"N": "1.5"}, {"B": b"\x00"}, {"SS": ["a"]}]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_result_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


def _answered(operation: str, result: Any, compiled: bool) -> Any:
    from moto.core import responses

    serializer.install()

    class Handler:
        RESPONSE_KEY_PATH_TO_TRANSFORMER: dict[str, Any] = {}

    handler: Any = Handler()
    model = responses.get_service_model("dynamodb")
    context = responses.ActionContext(
        model, model.operation_model(operation), serializer.JSONSerializer, handler
    )
    with pytest.MonkeyPatch.context() as patch:
        if not compiled:
            patch.setattr(serializer, "compiled_answer", lambda result, context: None)
        try:
            return DynamoResult.execute_result(DynamoResult(result), context)
        except Exception as error:  # what moto's serializer raises, compared
            return ("raised", type(error).__name__)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(
        ["GetItem", "PutItem", "Query", "BatchGetItem", "TransactWriteItems", "UpdateItem"]
    ),
    st.dictionaries(_result_keys, _result_values, max_size=5),
)
def test_any_result_is_written_as_the_serializer_it_compiles(
    operation: str, result: dict[str, Any]
) -> None:
    # Given any result dict: members under their names or their snake_case aliases, values
    # of any type (some moto's serializer refuses)
    # When it is answered with the compiled serializer and without it
    # Then status, headers and body bytes are the same, or both refuse it alike
    assert _answered(operation, result, compiled=True) == _answered(
        operation, result, compiled=False
    )


class _Kind(Enum):
    TOTAL = "TOTAL"


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("GetItem", {"Item": None, "ConsumedCapacity": {"TableName": None, "CapacityUnits": 1}}),
        ("PutItem", {"ConsumedCapacity": {"TableName": None, "CapacityUnits": 1}}),
        ("GetItem", {"item": {"a": {"S": "x"}}, "consumed_capacity": {"table_name": "t"}}),
        ("Query", {"Items": [{"a": {"N": "1"}}], "Count": "2", "ScannedCount": 2.0}),
        ("Query", {"Items": [], "Count": 0, "LastEvaluatedKey": {"pk": {"S": "p"}}}),
        ("PutItem", {"ConsumedCapacity": {"TableName": _Kind.TOTAL, "CapacityUnits": "0.5"}}),
        ("BatchGetItem", {"Responses": {"t": [{"a": {"S": "x"}}]}, "UnprocessedKeys": {}}),
        ("UpdateItem", {"Attributes": {}, "ItemCollectionMetrics": {"SizeEstimateRangeGB": [1]}}),
    ],
)
def test_results_are_written_as_the_serializer_it_compiles(operation: str, result: Any) -> None:
    # Given results with null members, snake_case names, an enum, numbers as text, empty
    # lists and maps
    # When answered with the compiled serializer and without it, Then the same answer
    compiled = _answered(operation, result, compiled=True)
    assert compiled == _answered(operation, result, compiled=False)
    assert compiled[0] == 200


def _typed(value: Any) -> Any:
    """The value with every node's type spelled out."""
    if isinstance(value, dict):
        return (type(value).__name__, {key: _typed(each) for key, each in value.items()})
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(each) for each in value])
    return (type(value).__name__, repr(value))


def test_results_are_made_plain_as_moto_makes_them() -> None:
    # Given results holding DynamoTypes of every type (a blob as bytes and as base64 text,
    # a blob set of both), nested in maps and lists, an Item, a datetime, a Decimal, a
    # tuple, an OrderedDict and a set
    import collections
    import datetime
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    serializer.install()
    nested = DynamoType(
        {"M": {"l": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": True}, {"NULL": True}]}}}
    )
    held_as_text = DynamoType({"B": "AAE="})
    mixed_set = DynamoType({"BS": [b"\x00"]})
    mixed_set.value.append("AQ==")
    item = Item(DynamoType({"S": "k"}), None, {"pk": {"S": "k"}, "b": {"B": b"\x02"}})
    results: list[Any] = [
        {"Item": {"a": nested, "b": DynamoType({"B": b"\x00\x01"}), "c": held_as_text}},
        {"Items": [{"s": mixed_set, "ss": DynamoType({"SS": ["a", "b"]})}], "Count": 1},
        {"Attributes": item, "At": datetime.datetime(2026, 12, 2), "N": Decimal("1.5")},
        {"Tuple": (DynamoType({"S": "t"}),), "Ordered": collections.OrderedDict(a=nested)},
        {"Set": {1, 2}, "Nothing": None, "Float": 0.5, "Bytes": b"x", "Bool": False},
        [nested, "text", 3],
        nested,
    ]
    for result in results:
        # When localcloud's conversion and moto's make it plain
        ours = serializer.result_to_dict(result)
        motos = serializer.moto_dynamo_to_dict(result)
        # Then both give the same values, of the same types, in new dicts and lists
        assert _typed(ours) == _typed(motos)
        if isinstance(result, dict | list):
            assert ours is not result
