"""DynamoDB request parameters read by localcloud (localcloud.dynamodb.request_params) are what
moto's shape walk reads, for every request it takes; requests it might read differently (a
blob, a timestamped operation, a body that is not a JSON object) are left to moto."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core import responses as moto_responses
from moto.core.parse import PROTOCOL_PARSERS

from localcloud.dynamodb.request_params import plain_params

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_#:", min_size=1, max_size=8)
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
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


@settings(max_examples=300, deadline=None)
@given(_requests())
def test_every_request_reads_as_moto_reads_it(request: tuple[str, dict[str, Any]]) -> None:
    # Given a request of an operation the functions make, without a blob
    operation, params = request
    body = json.dumps(params).encode()
    # When localcloud reads it
    ours = plain_params(operation, body)
    # Then it read what moto's walk reads; or, where the text "B" or "BS" shows (a string
    # value may be B), left it to moto
    if ours is None:
        assert b'"B"' in body or b'"BS"' in body
    else:
        assert ours == _moto_reads(operation, body)


def test_what_the_walk_would_change_is_left_to_moto() -> None:
    # Given requests holding a blob, an attribute named B, a timestamped operation, or no object
    blob = json.dumps({"TableName": "A", "Item": {"pk": {"B": "AAE="}}}).encode()
    blobs = json.dumps({"TableName": "A", "Item": {"pk": {"S": "x"}, "b": {"BS": ["AA=="]}}})
    named_b = json.dumps({"TableName": "A", "Item": {"B": {"S": "x"}}}).encode()
    export = json.dumps({"TableArn": "arn", "S3Bucket": "b", "ExportTime": 1700000000}).encode()
    # When localcloud looks at them
    # Then it leaves each to moto (which decodes the blobs, parses the time)
    assert plain_params("PutItem", blob) is None
    assert _moto_reads("PutItem", blob)["Item"]["pk"]["B"] == b"\x00\x01"
    assert plain_params("PutItem", blobs.encode()) is None
    assert plain_params("PutItem", named_b) is None
    assert plain_params("ExportTableToPointInTime", export) is None
    assert plain_params("GetItem", b"[1, 2]") is None
    assert plain_params("GetItem", b"{not json") is None
    assert plain_params("ListTables", b"") is None
