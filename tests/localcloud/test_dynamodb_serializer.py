"""DynamoDB answers written by localcloud.dynamodb.serializer are the answers moto's own
serializer writes: the same body and Content-Type, for items of every AttributeValue type,
nested, in every operation that returns items."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
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


def both(client: Client, operation: str, body: dict[str, Any]) -> tuple[Any, Any]:
    """The answer with localcloud's serializer, and with moto's alone."""
    ours = call(client, operation, body)
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
