"""localcloud's Query (localcloud.dynamodb.queries) answers what moto answers, for the table's
key and for its indexes, while a query on the table's key reads only its own partition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from localcloud.dynamodb import queries
from localcloud.spec import ACCOUNT_ID, REGION

RANGED = "Ranged"  # pk (S) + sk (N), a sparse GSI on g/gs and an LSI on pk/l
HASH_ONLY = "HashOnly"  # pk (S) only, a GSI on g/gs
PARTITIONS = [f"p{i}" for i in range(6)]
MISSING = "p-none"
RANGE_VALUES = [Decimal(v) for v in ("-3", "0", "0.5", "1", "2", "7", "10", "11", "42")]
GROUPS = ["g0", "g1", "g2"]


def _ranged_items() -> list[dict[str, Any]]:
    items = []
    for p, partition in enumerate(PARTITIONS):
        for r, sk in enumerate(RANGE_VALUES[: 3 + p]):  # partitions of different sizes
            item: dict[str, Any] = {
                "pk": {"S": partition},
                "sk": {"N": str(sk)},
                "n": {"N": str((p * 7 + r * 3) % 10)},
                "name": {"S": f"{'ab'[r % 2]}{partition}-{r}"},
            }
            if r % 3 != 2:  # the rest are not in the GSI (sparse index)
                item["g"] = {"S": GROUPS[(p + r) % len(GROUPS)]}
                item["gs"] = {"S": f"{'xyz'[r % 3]}{p}"}
            if r % 2 == 0:  # nor in the LSI
                item["l"] = {"S": f"{'cd'[p % 2]}{r}"}
            if r % 4 == 1:
                item["extra"] = {"M": {"note": {"S": "x" * r}}}
            items.append(item)
    return items


def _hash_only_items() -> list[dict[str, Any]]:
    return [
        {
            "pk": {"S": partition},
            "n": {"N": str(p)},
            "g": {"S": GROUPS[p % len(GROUPS)]},
            "gs": {"S": f"s{p}"},
        }
        for p, partition in enumerate(PARTITIONS)
    ]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    queries.install()
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        gsi = {
            "IndexName": "gsi",
            "KeySchema": [
                {"AttributeName": "g", "KeyType": "HASH"},
                {"AttributeName": "gs", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
        dynamodb.create_table(
            TableName=RANGED,
            KeySchema=[*keys, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "g", "AttributeType": "S"},
                {"AttributeName": "gs", "AttributeType": "S"},
                {"AttributeName": "l", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[gsi],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "lsi",
                    "KeySchema": [*keys, {"AttributeName": "l", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.create_table(
            TableName=HASH_ONLY,
            KeySchema=keys,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
                {"AttributeName": "gs", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[gsi],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in _ranged_items():
            dynamodb.put_item(TableName=RANGED, Item=item)
        for item in _hash_only_items():
            dynamodb.put_item(TableName=HASH_ONLY, Item=item)
        yield dynamodb


def _table(name: str) -> Table:
    return dynamodb_backends[ACCOUNT_ID][REGION].tables[name]


def _number(value: Decimal) -> dict[str, str]:
    return {"N": str(value)}


@st.composite
def _queries(draw: st.DrawFn) -> dict[str, Any]:
    """A Query request: a table or one of its indexes, a key condition, and its options."""
    table = draw(st.sampled_from([RANGED, HASH_ONLY]))
    target = draw(st.sampled_from(["table", "gsi", "lsi"] if table == RANGED else ["table", "gsi"]))
    values: dict[str, Any] = {}
    names: dict[str, str] = {"#h": "g" if target == "gsi" else "pk"}
    hash_value = draw(st.sampled_from(GROUPS if target == "gsi" else [*PARTITIONS, MISSING]))
    values[":h"] = {"S": hash_value}
    condition = "#h = :h"
    range_attr = {"table": "sk" if table == RANGED else None, "gsi": "gs", "lsi": "l"}[target]
    if range_attr is not None and draw(st.booleans()):
        names["#r"] = range_attr
        condition += draw(_range_condition(range_attr, values))
    request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition}
    if target != "table":
        request["IndexName"] = target
    request["ScanIndexForward"] = draw(st.booleans())
    limit = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=5)))
    if limit is not None:
        request["Limit"] = limit
    if draw(st.booleans()):
        request["FilterExpression"] = draw(
            st.sampled_from(["n > :f", "attribute_exists(extra)", "begins_with(#nm, :w)"])
        )
        if ":f" in request["FilterExpression"]:
            values[":f"] = {"N": str(draw(st.integers(min_value=0, max_value=9)))}
        if "#nm" in request["FilterExpression"]:
            names["#nm"] = "name"
            values[":w"] = {"S": draw(st.sampled_from(list("ab")))}
    if target != "gsi" and draw(st.booleans()):
        request["ProjectionExpression"] = draw(st.sampled_from(["#h, n", "extra.note, #h", "n"]))
    elif draw(st.booleans()):
        request["Select"] = "COUNT"
    if target != "gsi":
        request["ConsistentRead"] = draw(st.booleans())
    if draw(st.booleans()):
        request["ExclusiveStartKey"] = draw(_start_key(table, target, hash_value))
    request["ExpressionAttributeValues"] = values
    used = {name for name in names if name in str(request)}
    request["ExpressionAttributeNames"] = {name: names[name] for name in used}
    return request


@st.composite
def _range_condition(draw: st.DrawFn, range_attr: str, values: dict[str, Any]) -> str:
    """A condition on the range key `#r` (its values put in `values`)."""
    operator = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "between", "begins_with"]))
    if range_attr == "sk":
        low, high = sorted(draw(st.lists(st.sampled_from(RANGE_VALUES), min_size=2, max_size=2)))
        values[":a"], values[":b"] = _number(low), _number(high)
        operator = "<" if operator == "begins_with" else operator  # N has no begins_with
    else:
        words = st.text(alphabet="abcdxyz0123456", min_size=1, max_size=2)
        low_s, high_s = sorted(draw(st.lists(words, min_size=2, max_size=2)))
        values[":a"], values[":b"] = {"S": low_s}, {"S": high_s}
    if operator == "between":
        return " AND #r BETWEEN :a AND :b"
    del values[":b"]
    if operator == "begins_with":
        return " AND begins_with(#r, :a)"
    return f" AND #r {operator} :a"


def _start_key(table: str, target: str, hash_value: str) -> st.SearchStrategy[dict[str, Any]]:
    """An ExclusiveStartKey: the keys of an item of the queried partition, or of another."""
    items = _ranged_items() if table == RANGED else _hash_only_items()
    key_attrs = {"pk", "sk"} if table == RANGED else {"pk"}
    key_attrs |= {"g", "gs"} if target == "gsi" else set()
    key_attrs |= {"l"} if target == "lsi" else set()
    candidates = [
        {k: v for k, v in item.items() if k in key_attrs}
        for item in items
        if all(k in item for k in key_attrs)
    ]
    in_partition = [c for c in candidates if hash_value in (c["pk"]["S"], c.get("g", {}).get("S"))]
    return st.sampled_from(in_partition or candidates)


def _all_pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]] | str:
    """Every page of the query, following LastEvaluatedKey; or the error moto answered."""
    pages = []
    request = dict(request)
    try:
        for _ in range(50):
            page = client.query(**request)
            page.pop("ResponseMetadata")
            pages.append(page)
            if "LastEvaluatedKey" not in page:
                return pages
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except ClientError as error:
        return f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
    raise AssertionError("more than 50 pages")


def _moto_pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]] | str:
    """The same, answered by moto's own Table.query and all_items."""
    with pytest.MonkeyPatch.context() as unpatched:
        unpatched.setattr(Table, "query", Table.query.__wrapped__)  # type: ignore[attr-defined]
        unpatched.setattr(Table, "all_items", Table.all_items.__wrapped__)  # type: ignore[attr-defined]
        return _all_pages(client, request)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=_queries())
def test_query_answers_what_moto_answers(client: Any, request: dict[str, Any]) -> None:
    # Given a table (and indexes) with several partitions, When localcloud answers a query,
    # every page of it, Then each page is the one moto's own query answers
    assert _all_pages(client, request) == _moto_pages(client, request)


class _OnePartitionOnly(defaultdict[Any, Any]):
    """A table's partitions that refuse to be listed: only a lookup by key works."""

    def values(self) -> Any:
        raise AssertionError("listed every partition")

    def items(self) -> Any:
        raise AssertionError("listed every partition")

    def __iter__(self) -> Any:
        raise AssertionError("listed every partition")


@pytest.fixture
def one_partition_only(client: Any) -> Iterator[Table]:
    table = _table(RANGED)
    partitions = table.items
    table.items = _OnePartitionOnly(dict, partitions)
    yield table
    table.items = partitions


def test_a_query_on_the_table_key_reads_its_partition_only(
    client: Any, one_partition_only: Table
) -> None:
    # Given a table whose partitions cannot be listed, only looked up by key
    table = one_partition_only
    partitions = len(table.items)
    # When a partition, and a partition that does not exist, are queried
    query = {"TableName": RANGED, "KeyConditionExpression": "pk = :p", "ScanIndexForward": False}
    found = client.query(**query, ExpressionAttributeValues={":p": {"S": "p2"}})
    missing = client.query(**query, ExpressionAttributeValues={":p": {"S": MISSING}})
    # Then the partition's items come, in descending range key order, and none for the other,
    # which the query did not create
    assert [Decimal(item["sk"]["N"]) for item in found["Items"]] == sorted(
        RANGE_VALUES[:5], reverse=True
    )
    assert missing["Items"] == []
    assert missing["Count"] == 0
    assert len(table.items) == partitions
    assert DynamoType({"S": MISSING}) not in table.items


def test_moto_alone_lists_every_partition_for_a_query(
    client: Any, one_partition_only: Table
) -> None:
    # Given the same table, When moto's own query answers, Then it lists every partition
    # (what the test above would catch)
    moto_query = Table.query.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="listed every partition"):
        moto_query(one_partition_only, DynamoType({"S": "p2"}), None, [], None, None, True, None)
