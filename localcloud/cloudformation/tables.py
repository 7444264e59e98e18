"""DynamoDB tables as the template declares them: one definition, used by localcloud and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Properties that describe a table's shape; the rest (PITR, SSE, tags) has no local effect.
_CREATE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
)


def create_table_kwargs(table_name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """`create_table` arguments for an AWS::DynamoDB::Table's (resolved) Properties."""
    kwargs: dict[str, Any] = {"TableName": table_name, "BillingMode": "PAY_PER_REQUEST"}
    for prop in _CREATE_PROPERTIES:
        if prop in properties:
            kwargs[prop] = properties[prop]
    stream = kwargs.get("StreamSpecification")
    if stream is not None:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **stream}
    return kwargs


def create_table(client: DynamoDBClient, table_name: str, properties: dict[str, Any]) -> None:
    """Create the table and apply its TTL setting."""
    client.create_table(**create_table_kwargs(table_name, properties))
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
