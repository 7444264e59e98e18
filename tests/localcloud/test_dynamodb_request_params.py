"""DynamoDB request parameters read by localcloud (localcloud.dynamodb.request_params) are what
moto's shape walk reads, value types included, for every request it reads: blobs, nulls,
members the shape does not name, numbers to coerce; bodies not of the shape's types, another
content type or an unknown operation are left to moto."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core import responses as moto_responses
from moto.core.parse import PROTOCOL_PARSERS

from localcloud import moto_actions
from localcloud.dynamodb.request_params import read_params
from tests.support.values import typed

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_#:", min_size=1, max_size=8)
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
    st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(max_size=6)),
    st.builds(lambda b: {"BS": [base64.b64encode(b).decode()]}, st.binary(max_size=4)),
    st.just({"S": None}),  # a null member: dropped by moto's walk
    st.just({"B": "not base64!"}),  # a bad blob: moto's walk raises
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**6), 10**6)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=5), min_size=1)),
    st.builds(lambda s: {"NS": sorted(map(str, s))}, st.sets(st.integers(0, 99), min_size=1)),
)
attribute_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, st.dictionaries(names, inner, max_size=3)),
    ),
    max_leaves=8,
)
items = st.dictionaries(names, attribute_values, min_size=1, max_size=5)
expressions = st.text(alphabet="abc #:=<>()_,", min_size=1, max_size=30)


def _requests() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    table = st.just("Orders")
    return st.one_of(
        st.builds(
            lambda t, i, c, v: (
                "PutItem",
                {
                    "TableName": t,
                    "Item": i,
                    "ConditionExpression": c,
                    "ExpressionAttributeValues": v,
                },
            ),
            table,
            items,
            expressions,
            st.dictionaries(names, attribute_values, max_size=3),
        ),
        st.builds(
            lambda t, k, u, n: (
                "UpdateItem",
                {
                    "TableName": t,
                    "Key": k,
                    "UpdateExpression": u,
                    "ExpressionAttributeNames": n,
                    "ReturnValues": "ALL_NEW",
                },
            ),
            table,
            items,
            expressions,
            st.dictionaries(names, names, max_size=3),
        ),
        st.builds(
            lambda t, k, c: ("GetItem", {"TableName": t, "Key": k, "ConsistentRead": c}),
            table,
            items,
            st.booleans(),
        ),
        st.builds(
            lambda t, v, limit, forward, start: (
                "Query",
                {
                    "TableName": t,
                    "KeyConditionExpression": "pk = :p",
                    "ExpressionAttributeValues": v,
                    "Limit": limit,
                    "ScanIndexForward": forward,
                    "ExclusiveStartKey": start,
                },
            ),
            table,
            st.dictionaries(names, attribute_values, min_size=1, max_size=2),
            st.integers(1, 1000),
            st.booleans(),
            items,
        ),
        st.builds(
            lambda puts, keys: (
                "TransactWriteItems",
                {
                    "TransactItems": [
                        {"Put": {"TableName": "A", "Item": p, "ConditionExpression": "x"}}
                        for p in puts
                    ]
                    + [
                        {"ConditionCheck": {"TableName": "B", "Key": k, "ConditionExpression": "y"}}
                        for k in keys
                    ]
                },
            ),
            st.lists(items, max_size=3),
            st.lists(items, max_size=2),
        ),
        st.builds(
            lambda keys: ("BatchGetItem", {"RequestItems": {"A": {"Keys": keys}}}),
            st.lists(items, min_size=1, max_size=3),
        ),
        st.builds(
            lambda puts: (
                "BatchWriteItem",
                {"RequestItems": {"A": [{"PutRequest": {"Item": p}} for p in puts]}},
            ),
            st.lists(items, min_size=1, max_size=3),
        ),
    )


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    moto_actions.install()  # moto's model lookups as the endpoint does them


def _moto_reads(operation: str, body: bytes) -> Any:
    model = moto_responses.get_service_model("dynamodb").operation_model(operation)
    parser = PROTOCOL_PARSERS["json"](model, map_type=dict)
    request: Any = {
        "method": "POST",
        "values": {},
        "headers": {"Content-Type": "application/x-amz-json-1.0"},
        "body": body,
        "url_path": "/",
        "url_params": {},
    }
    return parser.parse(request)


def _moto_or_error(operation: str, body: bytes) -> Any:
    try:
        return typed(_moto_reads(operation, body))
    except Exception as error:  # what moto's walk raises
        return ("raised", type(error).__name__)


extras = st.dictionaries(  # what a hand-made request may add: nulls, unknown members, numbers
    st.sampled_from(["ReturnValues", "Limit", "Segment", "Unknown", "ConsistentRead"]),
    st.one_of(st.none(), st.integers(0, 9), st.floats(0, 9), st.sampled_from(["5", "ALL_NEW"])),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(_requests(), extras)
def test_every_request_reads_as_moto_reads_it(
    request: tuple[str, dict[str, Any]], extra: dict[str, Any]
) -> None:
    # Given a request of an operation the functions make, blobs, nulls and extras included
    operation, params = request
    body = json.dumps({**params, **extra}).encode()
    # When localcloud reads it
    ours = read_params(operation, body)
    # Then it read what moto's walk reads, value types included; or it left the request to
    # moto's walk, which then refuses it
    if ours is None:
        assert _moto_or_error(operation, body)[0] == "raised"
    else:
        assert typed(ours) == _moto_or_error(operation, body)


def test_what_the_walk_changes_is_changed_alike() -> None:
    # Given requests holding a blob, an attribute named B, a timestamp, a null ReturnValues
    # (moto's default then applies), a Limit as text and an unknown member
    requests = [
        ("PutItem", {"TableName": "A", "Item": {"pk": {"B": "AAE="}}}),
        ("PutItem", {"TableName": "A", "Item": {"pk": {"S": "x"}, "b": {"BS": ["AA=="]}}}),
        ("PutItem", {"TableName": "A", "Item": {"B": {"S": "x"}}}),
        ("ExportTableToPointInTime", {"TableArn": "a", "S3Bucket": "b", "ExportTime": 1.7e9}),
        ("PutItem", {"TableName": "A", "Item": {"pk": {"S": "x"}}, "ReturnValues": None}),
        ("Query", {"TableName": "A", "Limit": "5", "Unknown": True}),
        ("ListTables", {}),
    ]
    for operation, params in requests:
        body = json.dumps(params).encode()
        # When localcloud reads it, Then it reads what moto's walk reads, types included
        assert typed(read_params(operation, body)) == typed(_moto_reads(operation, body))
    assert read_params("PutItem", json.dumps(requests[0][1]).encode()) == {
        "TableName": "A",
        "Item": {"pk": {"B": b"\x00\x01"}},
    }


def test_what_is_not_of_the_shape_types_is_left_to_moto() -> None:
    # Given bodies that are not objects, of the wrong types, another content type, or an
    # operation DynamoDB does not have (and one not JSON, which both read as moto does)
    # When localcloud looks at them, Then it leaves each to moto's walk
    assert read_params("GetItem", b"[1, 2]") is None
    assert read_params("GetItem", b'{"Key": "text"}') is None
    assert read_params("GetItem", b'{"Key": {"pk": {"B": "not base64!"}}}') is None
    assert read_params("GetItem", b"{not json") == _moto_reads("GetItem", b"{not json") == {}
    assert read_params("GetItem", b"{}", "application/json") is None
    assert read_params("NoSuchOperation", b"{}") is None
