"""DynamoDB's high-level interface (Python values in and out, condition builders) on a client.

`boto3.resource("dynamodb")` costs about 30 ms of every cold start on top of the client it
wraps: boto3 lists every service's data directory looking for resource models (hundreds of
stat calls), loads the resource model and builds the resource classes. The repositories use
none of that: they call the table's operations (get_item, put_item, update_item, delete_item,
query, scan), `batch_get_item` and `meta.client.transact_write_items`. This module gives them
the same calls on a plain client, with the very handlers the resource installs on its client
(boto3.dynamodb.transform.TransformationInjector: Python values serialized, responses
deserialized, `Key(...)`/`Attr(...)` conditions turned into expressions), so a call behaves as
it did through the resource.

`dynamodb()` is one per process (Lambda's advice: create clients once, reuse them across
invocations), shared by every repository of a function, and by threads (GetOrderDetails asks
its parts in parallel): the client is thread-safe and the one stateful handler is locked.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan")


class _ThreadSafeInjector(TransformationInjector):
    """The resource's injector, whose one condition builder (placeholder counters) is reset and
    filled per call: a lock makes it safe on a client threads share (a boto3 client is
    thread-safe; a resource, with this builder unlocked, is not)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def inject_condition_expressions(self, params: Any, model: Any, **kwargs: Any) -> None:
        with self._lock:
            super().inject_condition_expressions(params, model, **kwargs)


def high_level_client(client: DynamoDBClient) -> DynamoDBClient:
    """`client` with the resource's handlers on its events: the high-level interface."""
    events = client.meta.events
    injector = _ThreadSafeInjector()
    events.register(
        "provide-client-params.dynamodb",
        copy_dynamodb_params,
        unique_id="dynamodb-create-params-copy",
    )
    events.register(
        "before-parameter-build.dynamodb",
        injector.inject_condition_expressions,
        unique_id="dynamodb-condition-expression",
    )
    events.register(
        "before-parameter-build.dynamodb",
        injector.inject_attribute_value_input,
        unique_id="dynamodb-attr-value-input",
    )
    events.register(
        "after-call.dynamodb",
        injector.inject_attribute_value_output,
        unique_id="dynamodb-attr-value-output",
    )
    return client


class _Meta:
    def __init__(self, client: DynamoDBClient) -> None:
        self.client = client


class ClientTable:
    """A table's operations on the high-level client, as `dynamodb.Table(name)` offers them."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.name = self.table_name = name
        self.meta = _Meta(client)

    def __getattr__(self, operation: str) -> Any:
        if operation not in TABLE_OPERATIONS:
            raise AttributeError(operation)
        call = getattr(self.meta.client, operation)

        def on_table(**kwargs: Any) -> Any:
            return call(TableName=self.name, **kwargs)

        return on_table


class ClientDynamoDB:
    """What the repositories used of the DynamoDB service resource, on one client."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.meta = _Meta(client)

    def Table(self, name: str) -> Any:
        return ClientTable(self.meta.client, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        return self.meta.client.batch_get_item(**kwargs)


def dynamodb() -> Any:
    """The process's DynamoDB, high-level, typed as the service resource it stands in for."""
    return _dynamodb(*_where())


@cache
def _dynamodb(endpoint_url: str | None, region: str | None, access_key: str | None) -> Any:
    del endpoint_url, region, access_key  # the cache key: boto3 reads them from the environment
    return ClientDynamoDB(high_level_client(boto3.client("dynamodb")))


def _where() -> tuple[str | None, str | None, str | None]:
    """What a client is bound to when made: one per process on Lambda, where these never
    change; a test that points the environment elsewhere gets a client of its own."""
    return (
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
    )


def low_level_client() -> DynamoDBClient:
    """The process's plain DynamoDB client (attribute values as DynamoDB writes them), for
    libraries that serialize themselves, such as Powertools' idempotency layer. Made from the
    default session, it shares the service model `dynamodb()` already loaded: the layer's own
    default, a client of a new boto3 Session, reloads it (about 40 ms of a cold start)."""
    return _low_level_client(*_where())


@cache
def _low_level_client(
    endpoint_url: str | None, region: str | None, access_key: str | None
) -> DynamoDBClient:
    del endpoint_url, region, access_key  # the cache key, as for _dynamodb
    return boto3.client("dynamodb")
