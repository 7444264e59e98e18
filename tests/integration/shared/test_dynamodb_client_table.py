"""shop_shared.dynamodb: the resource's high-level interface on a plain client (moto), call for
call the same as `boto3.resource("dynamodb").Table(...)`, and safe to share between threads."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from moto import mock_aws

from shop_shared.dynamodb import ClientDynamoDB, dynamodb, high_level_client, low_level_client

TABLE = "InventoryTable"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def resource_table(make_table: Any) -> Any:
    return make_table(TABLE)


@pytest.fixture
def client_dynamodb(resource_table: Any) -> ClientDynamoDB:
    return ClientDynamoDB(high_level_client(boto3.client("dynamodb")))


def product(sku: str, stock: int) -> dict[str, Any]:
    return {"pk": f"PRODUCT#{sku}", "itemType": "PRODUCT", "sku": sku, "stock": stock}


def test_what_one_writes_the_other_reads_in_python_types(
    resource_table: Any, client_dynamodb: ClientDynamoDB
) -> None:
    table = client_dynamodb.Table(TABLE)

    # When an item goes in through the client table, with nested Python values
    table.put_item(Item={**product("KB-001", 3), "tags": ["a", "b"], "price": Decimal("9.5")})

    # Then the resource reads it as written, and the client table reads what the resource wrote
    assert resource_table.get_item(Key={"pk": "PRODUCT#KB-001"})["Item"] == {
        **product("KB-001", 3),
        "tags": ["a", "b"],
        "price": Decimal("9.5"),
    }
    resource_table.put_item(Item=product("KB-002", 7))
    assert table.get_item(Key={"pk": "PRODUCT#KB-002"}, ConsistentRead=True)["Item"] == product(
        "KB-002", 7
    )


def test_condition_builders_work_as_through_the_resource(
    client_dynamodb: ClientDynamoDB, resource_table: Any
) -> None:
    table = client_dynamodb.Table(TABLE)
    table.put_item(Item=product("KB-001", 3))

    # A conditional update with Attr(...) and a query with Key(...)
    table.update_item(
        Key={"pk": "PRODUCT#KB-001"},
        UpdateExpression="SET stock = stock - :n",
        ConditionExpression=Attr("stock").gte(2),
        ExpressionAttributeValues={":n": 2},
    )
    with pytest.raises(ClientError) as refused:
        table.update_item(
            Key={"pk": "PRODUCT#KB-001"},
            UpdateExpression="SET stock = stock - :n",
            ConditionExpression=Attr("stock").gte(2),
            ExpressionAttributeValues={":n": 2},
        )
    page = table.query(
        IndexName="CatalogBySku", KeyConditionExpression=Key("itemType").eq("PRODUCT")
    )

    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert [item["sku"] for item in page["Items"]] == ["KB-001"]
    assert resource_table.get_item(Key={"pk": "PRODUCT#KB-001"})["Item"]["stock"] == 1


def test_transactions_and_batch_reads_take_python_values(
    client_dynamodb: ClientDynamoDB, resource_table: Any
) -> None:
    client_dynamodb.meta.client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": product(f"KB-00{n}", n)}} for n in range(1, 4)
        ]
    )

    found = client_dynamodb.batch_get_item(
        RequestItems={TABLE: {"Keys": [{"pk": "PRODUCT#KB-002"}], "ConsistentRead": True}}
    )

    assert found["Responses"][TABLE] == [product("KB-002", 2)]
    assert resource_table.scan()["Count"] == 3


def test_threads_sharing_it_each_get_their_own_conditions(
    client_dynamodb: ClientDynamoDB, resource_table: Any
) -> None:
    # Given 40 products with stock 1
    table = client_dynamodb.Table(TABLE)
    skus = [f"SKU-{n:03d}" for n in range(40)]
    for sku in skus:
        table.put_item(Item=product(sku, 1))

    # When 8 threads each take one unit of every product, with an Attr condition per call
    def take(sku: str) -> str:
        try:
            table.update_item(
                Key={"pk": f"PRODUCT#{sku}"},
                UpdateExpression="SET stock = stock - :one",
                ConditionExpression=Attr("stock").gte(1) & Attr("sku").eq(sku),
                ExpressionAttributeValues={":one": 1},
            )
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "taken"

    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(take, skus * 8))

    # Then each product was taken exactly once and no stock went below zero
    assert taken.count("taken") == len(skus)
    assert set(taken) == {"taken", "ConditionalCheckFailedException"}
    stock = {item["sku"]: item["stock"] for item in resource_table.scan()["Items"]}
    assert stock == dict.fromkeys(skus, 0)


def test_a_table_offers_only_the_table_operations(client_dynamodb: ClientDynamoDB) -> None:
    with pytest.raises(AttributeError):
        _ = client_dynamodb.Table(TABLE).batch_writer


def test_one_per_process_unless_the_environment_points_elsewhere(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the process's DynamoDB
    first = dynamodb()

    # When it is asked for again, then with the endpoint moved (as a test may move it)
    again = dynamodb()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    elsewhere = dynamodb()

    # Then the same one is reused, and the moved environment gets its own, bound there
    assert again is first
    assert elsewhere is not first
    assert elsewhere.meta.client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert low_level_client() is not first.meta.client
