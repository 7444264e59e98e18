"""Helpers for running the orders handlers in-process on moto (integration tests)."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key

from orders.logic import confirm_order, place_order
from orders.models import ConfirmOrderInput, PlaceOrder, PlaceOrderRequest
from orders.payment_token import KmsTokenSealer
from shop_shared.sealing import KmsSealer
from tests.support.sealing import customer_data_key, moto_key
from tests.support.template import ROOT

if TYPE_CHECKING:
    from datetime import datetime

    import pytest

    from orders.repository import OrderEventStore

EVENTS = ROOT / "events"
CUSTOMER = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sub of the sample events
OTHER_CUSTOMER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
SAMPLE_ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"  # the order of the sample events
SAMPLE_ITEMS = [{"sku": "ESPRESSO-250G", "quantity": 2}, {"sku": "MUG-CERAMIC", "quantity": 1}]
PASS_ONLY = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def load_handler(monkeypatch: pytest.MonkeyPatch, module: str, **env: str) -> ModuleType:
    """Import (or re-import) a handler module after setting its environment: settings, clients
    and tables are read at import, as in a Lambda cold start."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if module in sys.modules:
        return importlib.reload(sys.modules[module])
    return importlib.import_module(module)


def sample_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def api_event(
    name: str,
    *,
    sub: str = CUSTOMER,
    body: Any = None,
    headers: dict[str, str] | None = None,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The sample REST proxy event `events/<name>.json`, changed where asked."""
    event = copy.deepcopy(sample_event(name))
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    for header, value in (headers or {}).items():
        event["headers"][header] = value
        event["multiValueHeaders"][header] = [value]
    if path is not None:
        event["path"] = path
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def without_header(event: dict[str, Any], header: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["headers"].pop(header, None)
    event["multiValueHeaders"].pop(header, None)
    return event


def order_items(table: Any, order_id: str) -> list[dict[str, Any]]:
    """Every item of the order in OrdersTable, oldest version first."""
    items: list[dict[str, Any]] = table.query(
        KeyConditionExpression=Key("pk").eq(f"ORDER#{order_id}"), ConsistentRead=True
    )["Items"]
    return items


def all_items(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table.scan(ConsistentRead=True)["Items"]
    return items


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def stream_event(table_name: str) -> dict[str, Any]:
    """The table's stream so far, as the DynamoDB event source hands it to a function."""
    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            change = dict(record["dynamodb"])
            change["ApproximateCreationDateTime"] = int(
                change["ApproximateCreationDateTime"].timestamp()
            )
            records.append({**record, "dynamodb": change, "eventSourceARN": arn})
    return {"Records": records}


PAYMENT_TOKEN_KEY_ALIAS = "alias/shop/payment-token"


def payment_token_key() -> str:
    """The payment-token KMS key of this moto (template.yaml's PaymentTokenKey), made on first
    use: its ARN, for PAYMENT_TOKEN_KEY_ID."""
    return moto_key(PAYMENT_TOKEN_KEY_ALIAS, "payment tokens")


def given_placed(
    store: OrderEventStore,
    at: datetime,
    *,
    order_id: str = SAMPLE_ORDER_ID,
    customer: str = CUSTOMER,
    token: str = "tok_visa",
    correlation_id: str = "corr-1",
    shipping_address: dict[str, str] | None = None,
) -> None:
    """An order placed through the orders logic, as POST /orders would have written it."""
    body: dict[str, Any] = {"items": SAMPLE_ITEMS, "paymentToken": token}
    if shipping_address is not None:
        body["shippingAddress"] = shipping_address
    request = PlaceOrderRequest.model_validate(body)
    command = PlaceOrder(customerId=customer, correlationId=correlation_id, request=request)
    place_order(
        command,
        store=store,
        clock=lambda: at,
        new_id=lambda: order_id,
        seal=KmsTokenSealer(payment_token_key()),
        address_sealer=KmsSealer(customer_data_key()),
    )


def given_confirmed(
    store: OrderEventStore,
    at: datetime,
    *,
    order_id: str = SAMPLE_ORDER_ID,
    total_cents: int = 3470,
    shipping_address: dict[str, str] | None = None,
) -> None:
    """An order placed at `at` and confirmed a minute later (charged `total_cents`)."""
    given_placed(store, at, order_id=order_id, shipping_address=shipping_address)
    task = ConfirmOrderInput.model_validate(
        {
            "orderId": order_id,
            "reservation": {"totalCents": total_cents, "currency": "EUR"},
            "payment": {"paymentId": "ch_1", "amountCents": total_cents, "currency": "EUR"},
        }
    )
    confirm_order(task, store=store, clock=lambda: at + timedelta(minutes=1))


def pass_state_machine(name: str) -> str:
    """A state machine named as the template's (`OrderSaga`, `OrderCancellation`) that only
    passes: the starters' tests look at the executions started, not at what they do."""
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name=name, definition=PASS_ONLY, roleArn=f"arn:aws:iam::123456789012:role/{name}Role"
    )["stateMachineArn"]
    return arn


def executions(arn: str) -> list[dict[str, Any]]:
    """The state machine's executions, each described (input, status, ...)."""
    client = boto3.client("stepfunctions")
    return [
        dict(client.describe_execution(executionArn=execution["executionArn"]))
        for execution in client.list_executions(stateMachineArn=arn)["executions"]
    ]
