"""The order saga executed by moto's Step Functions interpreter, end to end in-process.

The definition is the real one (DefinitionSubstitutions applied, retries shortened), started by
StartOrderSaga from the orders stream. Its Lambda tasks run the real orders and payments handlers
(moto's Lambda would need Docker, so its invoke is routed to them here), with DynamoDB on moto
and the payment provider simulator; inventory's two steps are small fakes of their contract.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaBackend

from localcloud.payment_provider import PaymentProviderSimulator
from localcloud.tables import create_table
from orders.logic import load
from orders.repository import DynamoDBOrderEventStore
from tests.integration.orders.orders_harness import given_placed, stream_event
from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import resource
from tests.unit.orders.saga_asl import substituted_definition

API_KEY = "sk_test_saga"
PRICES = {"ESPRESSO-250G": 1290, "MUG-CERAMIC": 890}  # the sample items: 2 x 1290 + 890 = 3470
TOTAL = 3470


class OutOfStock(Exception):
    """Inventory's business error, by name (the errorType the saga matches)."""


@dataclass
class FakeInventory:
    """ReserveStock / ReleaseStock as contracts.md describes them."""

    out_of_stock: set[str] = field(default_factory=set)  # order ids that cannot be reserved
    reserved: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def reserve(self, state: dict[str, Any]) -> dict[str, Any]:
        if state["orderId"] in self.out_of_stock:
            raise OutOfStock("MUG-CERAMIC: only 0 left")
        lines = [{**line, "unitPriceCents": PRICES[line["sku"]]} for line in state["items"]]
        self.reserved[state["orderId"]] = lines
        total = sum(line["quantity"] * line["unitPriceCents"] for line in lines)
        return {"lines": lines, "totalCents": total, "currency": "EUR"}

    def release(self, state: dict[str, Any]) -> dict[str, Any]:
        self.reserved.pop(state["orderId"], None)
        return {"orderId": state["orderId"], "status": "RELEASED"}


@dataclass
class SagaFunctions:
    """Stands in for Lambda's Invoke: runs the function the task names, reports errors as Lambda
    does (X-Amz-Function-Error + {errorType, errorMessage}), and records every call."""

    handlers: dict[str, Callable[[dict[str, Any]], Any]]
    calls: list[tuple[str, str]] = field(default_factory=list)  # (function, orderId)
    broken: set[tuple[str, str]] = field(default_factory=set)  # (function, orderId) that fail

    def invoke(
        self,
        function_name: str,
        _qualifier: str | None,
        body: Any,
        _headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        event = json.loads(body or "{}")
        self.calls.append((name, event["orderId"]))
        try:
            if (name, event["orderId"]) in self.broken:
                raise RuntimeError(f"{name} is broken for this test")
            result = self.handlers[name](event)
        except Exception as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            failure = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return json.dumps(failure).encode()
        return json.dumps(result).encode()

    def called(self, order_id: str) -> list[str]:
        return [name.removesuffix("Function") for name, order in self.calls if order == order_id]


@dataclass
class SagaCloud:
    functions: SagaFunctions
    inventory: FakeInventory
    provider: PaymentProviderSimulator
    start_order_saga: ModuleType
    state_machine_arn: str

    def run(
        self, token: str = "tok_visa", order_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Place an order, deliver its stream record, wait for the saga to end."""
        order_id = order_id or str(uuid.uuid4())
        given_placed(self.orders, datetime.now(UTC), order_id=order_id, token=token)
        records = [
            record
            for record in stream_event("OrdersTable")["Records"]
            if record["dynamodb"]["Keys"]["pk"]["S"] == f"ORDER#{order_id}"
        ]
        response = self.start_order_saga.handler({"Records": records}, FakeLambdaContext())
        assert response == {"batchItemFailures": []}
        return order_id, wait_for_end(self.state_machine_arn, order_id)

    @property
    def orders(self) -> DynamoDBOrderEventStore:
        return DynamoDBOrderEventStore("OrdersTable")

    def payment(self, order_id: str) -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table("PaymentsTable")
        item: dict[str, Any] | None = table.get_item(Key={"pk": f"PAYMENT#{order_id}"}).get("Item")
        return item


def wait_for_end(state_machine_arn: str, order_id: str, timeout: float = 30) -> dict[str, Any]:
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{order_id}"
    client = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError(f"the saga of {order_id} did not end within {timeout} s")


def fresh_import(name: str) -> ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def saga() -> Iterator[SagaCloud]:
    """One moto (Step Functions executing), the two tables, the secret, the simulator and the
    handler modules for the whole module: each test runs its own order, so nothing collides."""
    with (
        pytest.MonkeyPatch.context() as env,
        mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "core": {"reset_boto3_session": False},  # see conftest.py
            }
        ),
        PaymentProviderSimulator(api_key=API_KEY) as provider,
    ):
        for table in ("OrdersTable", "PaymentsTable"):
            create_table(boto3.client("dynamodb"), table, resource(table)["Properties"])
        secret = boto3.client("secretsmanager").create_secret(Name="Key", SecretString=API_KEY)
        state_machine_arn = boto3.client("stepfunctions").create_state_machine(
            name="OrderSaga",
            definition=json.dumps(
                substituted_definition(SagaRetryIntervalSeconds=1, SagaRetryMaxAttempts=1)
            ),
            roleArn="arn:aws:iam::123456789012:role/OrderSagaRole",
        )["stateMachineArn"]
        for name, value in {
            "ORDERS_TABLE_NAME": "OrdersTable",
            "PAYMENTS_TABLE_NAME": "PaymentsTable",
            "PAYMENT_PROVIDER_BASE_URL": provider.base_url,
            "PAYMENT_PROVIDER_API_KEY_SECRET_ARN": secret["ARN"],
            "ORDER_SAGA_STATE_MACHINE_ARN": state_machine_arn,
        }.items():
            env.setenv(name, value)
        inventory = FakeInventory()
        modules = {
            name: fresh_import(name)
            for name in (
                "confirm_order",
                "reject_order",
                "charge_payment",
                "refund_payment",
                "start_order_saga",
            )
        }

        def lambda_handler(module: str) -> Callable[[dict[str, Any]], Any]:
            return lambda event: modules[module].handler(event, FakeLambdaContext())

        functions = SagaFunctions(
            handlers={
                "ReserveStockFunction": inventory.reserve,
                "ReleaseStockFunction": inventory.release,
                "ChargePaymentFunction": lambda_handler("charge_payment"),
                "RefundPaymentFunction": lambda_handler("refund_payment"),
                "ConfirmOrderFunction": lambda_handler("confirm_order"),
                "RejectOrderFunction": lambda_handler("reject_order"),
            }
        )
        # A bound method on the class: moto's backend calls it without passing itself.
        env.setattr(LambdaBackend, "invoke", functions.invoke)
        yield SagaCloud(
            functions, inventory, provider, modules["start_order_saga"], state_machine_arn
        )


def order_state(saga: SagaCloud, order_id: str) -> tuple[str, str | None, int | None]:
    order = load(saga.orders, order_id)
    assert order is not None
    return order.status, order.reason, order.totalCents


def test_a_paid_order_is_confirmed_at_the_catalog_total(saga: SagaCloud) -> None:
    # When an order paid with tok_visa goes through the saga
    order_id, execution = saga.run("tok_visa")

    # Then the forward steps ran once each and the saga succeeded
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == ["ReserveStock", "ChargePayment", "ConfirmOrder"]
    output = json.loads(execution["output"])
    assert output["confirmation"] == {"orderId": order_id, "status": "CONFIRMED"}
    assert output["payment"]["amountCents"] == output["reservation"]["totalCents"] == TOTAL
    # And the order is CONFIRMED, the payment CHARGED once, the stock still reserved
    assert order_state(saga, order_id) == ("CONFIRMED", None, TOTAL)
    assert saga.payment(order_id)["status"] == "CHARGED"  # type: ignore[index]
    assert [c["reference"] for c in saga.provider.charges()].count(order_id) == 1
    assert order_id in saga.inventory.reserved


def test_out_of_stock_rejects_at_once_without_retry_or_compensation(saga: SagaCloud) -> None:
    order_id = str(uuid.uuid4())
    saga.inventory.out_of_stock.add(order_id)

    placed_id, execution = saga.run(order_id=order_id)

    assert execution["status"] == "SUCCEEDED"  # a handled business outcome
    assert saga.functions.called(placed_id) == ["ReserveStock", "RejectOrder"]
    assert order_state(saga, placed_id) == ("REJECTED", "OUT_OF_STOCK", None)
    assert saga.payment(placed_id) is None


def test_a_declined_card_releases_the_stock_then_rejects(saga: SagaCloud) -> None:
    order_id, execution = saga.run("tok_declined")

    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",  # PaymentDeclined is not retried
        "ReleaseStock",
        "RejectOrder",
    ]
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "PaymentDeclined"
    assert order_state(saga, order_id) == ("REJECTED", "PAYMENT_DECLINED", None)
    assert saga.payment(order_id) is None
    assert order_id not in saga.inventory.reserved


def test_an_unavailable_provider_is_retried_then_compensated(saga: SagaCloud) -> None:
    order_id, execution = saga.run("tok_unavailable")

    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ChargePayment",  # one retry (SagaRetryMaxAttempts=1), with backoff and jitter
        "RefundPayment",  # a failure that isn't a decline may have charged: refund is a no-op
        "ReleaseStock",
        "RejectOrder",
    ]
    assert order_state(saga, order_id) == ("REJECTED", "PAYMENT_PROVIDER_UNAVAILABLE", None)
    assert saga.payment(order_id) is None
    assert [r for r in saga.provider.refunds() if r.get("reference") == order_id] == []
    assert order_id not in saga.inventory.reserved


def test_a_failing_confirmation_refunds_releases_and_rejects_in_reverse_order(
    saga: SagaCloud,
) -> None:
    order_id = str(uuid.uuid4())
    saga.functions.broken.add(("ConfirmOrderFunction", order_id))

    placed_id, execution = saga.run(order_id=order_id)

    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(placed_id) == [
        "ReserveStock",
        "ChargePayment",
        "ConfirmOrder",
        "ConfirmOrder",
        "RefundPayment",
        "ReleaseStock",
        "RejectOrder",
    ]
    assert order_state(saga, placed_id) == ("REJECTED", "SAGA_FAILED", None)
    assert saga.payment(placed_id)["status"] == "REFUNDED"  # type: ignore[index]
    (charge,) = [c for c in saga.provider.charges() if c["reference"] == placed_id]
    assert [r["chargeId"] for r in saga.provider.refunds()].count(charge["chargeId"]) == 1
    assert placed_id not in saga.inventory.reserved
