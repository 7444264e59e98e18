"""The order saga and the cancellation executed by moto's Step Functions interpreter, in-process.

The definitions are the real ones (DefinitionSubstitutions applied, retries shortened), started
by StartOrderWorkflows from the orders stream. Their Lambda tasks run the real
orders, payments and shipping handlers (moto's Lambda would need Docker, so its invoke is routed
to them here), with DynamoDB and SQS on moto and the payment provider simulator; inventory's two
steps are small fakes of their contract. NotifyOperator is Step Functions' own SQS integration,
run by the interpreter against moto's SQS.
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

from localcloud.cloudformation.tables import create_table
from localcloud.payment_provider.simulator import PaymentProviderSimulator
from orders.logic import load, place_order, request_cancellation, utc_now
from orders.models import PlaceOrder, PlaceOrderRequest
from orders.payment_token import KmsTokenSealer
from orders.repository import DynamoDBOrderEventStore
from shipping.models import Address, CustomerAddress
from shipping.repository import DynamoDBShippingRepository
from tests.integration.orders.orders_harness import (
    CUSTOMER,
    SAMPLE_ITEMS,
    given_placed,
    payment_token_key,
    stream_event,
)
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sealing import FakeSealer, customer_data_key
from tests.support.template import raw_template, resource
from tests.unit.orders.saga_asl import CANCELLATION, SAGA, substituted_definition

API_KEY = "sk_test_saga"
PRICES = {"ESPRESSO-250G": 1290, "MUG-CERAMIC": 890}  # the sample items: 2 x 1290 + 890 = 3470
TOTAL = 3470
REGISTERED = {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
POLE = {"line1": "Amundsen-Scott", "city": "South Pole", "postalCode": "0000", "country": "AQ"}
TABLES = ("OrdersTable", "PaymentsTable", "ShippingTable")


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
    modules: dict[str, ModuleType]
    saga_arn: str
    cancellation_arn: str
    operator_queue_url: str

    def run(
        self,
        token: str = "tok_visa",
        order_id: str | None = None,
        shipping_address: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Place an order, deliver its stream record, wait for the saga to end."""
        order_id = order_id or str(uuid.uuid4())
        given_placed(
            self.orders,
            datetime.now(UTC),
            order_id=order_id,
            token=token,
            shipping_address=shipping_address,
        )
        self.deliver("start_order_saga", order_id)
        return order_id, wait_for_end(self.saga_arn, order_id)

    def cancel(self, order_id: str) -> dict[str, Any]:
        """The owner cancels (as POST /cancel does), the stream delivers it, the workflow ends."""
        request_cancellation(
            order_id,
            customer_id=CUSTOMER,
            correlation_id="corr-cancel",
            store=self.orders,
            clock=utc_now,
        )
        self.deliver("start_order_cancellation", order_id)
        return wait_for_end(self.cancellation_arn, f"cancel-{order_id}")

    def deliver(self, starter: str, order_id: str) -> None:
        """The order's records of the orders stream, to a starter (its filter is the template's:
        the starter itself refuses what isn't its event, so only the matching record goes)."""
        detail_type = {
            "start_order_saga": "OrderPlaced",
            "start_order_cancellation": "OrderCancellationRequested",
        }[starter]
        records = [
            record
            for record in stream_event("OrdersTable")["Records"]
            if record["dynamodb"]["Keys"]["pk"]["S"] == f"ORDER#{order_id}"
            and record["dynamodb"]["NewImage"]["detailType"]["S"] == detail_type
        ]
        assert len(records) == 1
        handler = self.modules["start_order_workflows"].handler  # one starter for both
        response = handler({"Records": records}, FakeLambdaContext())
        assert response == {"batchItemFailures": []}

    @property
    def orders(self) -> DynamoDBOrderEventStore:
        return DynamoDBOrderEventStore("OrdersTable")

    def item(self, table: str, pk: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = (
            boto3.resource("dynamodb").Table(table).get_item(Key={"pk": pk}).get("Item")
        )
        return found

    def payment(self, order_id: str) -> dict[str, Any] | None:
        return self.item("PaymentsTable", f"PAYMENT#{order_id}")

    def shipment(self, order_id: str) -> dict[str, Any] | None:
        return self.item("ShippingTable", f"SHIPMENT#{order_id}")

    def outbox(self, table: str, order_id: str) -> list[str]:
        """Detail-types of the outbox items about this order, oldest first."""
        items = boto3.resource("dynamodb").Table(table).scan(ConsistentRead=True)["Items"]
        events = [
            (item["occurredAt"], item["detailType"])
            for item in items
            if item.get("itemType") == "EVENT"
            and json.loads(item["detail"])["data"].get("orderId") == order_id
        ]
        return [detail_type for _, detail_type in sorted(events)]

    def refunds_of(self, order_id: str) -> list[dict[str, Any]]:
        charges = {c["chargeId"] for c in self.provider.charges() if c["reference"] == order_id}
        return [r for r in self.provider.refunds() if r["chargeId"] in charges]

    def operator_messages(self) -> list[dict[str, Any]]:
        """Everything on the operator queue (received and deleted, so each test sees its own)."""
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.operator_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(
                QueueUrl=self.operator_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return [json.loads(message["Body"]) for message in messages]


def wait_for_end(state_machine_arn: str, name: str, timeout: float = 30) -> dict[str, Any]:
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    client = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError(f"the execution {name} did not end within {timeout} s")


def parameter_defaults(function: str) -> dict[str, str]:
    """The function's variables that template.yaml sets from a parameter with a default, at it."""
    parameters = raw_template()["Parameters"]
    variables = resource(function)["Properties"]["Environment"]["Variables"]
    return {
        name: str(parameters[value["Ref"]]["Default"])
        for name, value in variables.items()
        if isinstance(value, dict) and "Default" in parameters.get(value.get("Ref"), {})
    }


def fresh_import(name: str) -> ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


HANDLER_MODULES = (
    "confirm_order",
    "reject_order",
    "mark_order_needs_attention",
    "mark_order_cancelled",
    "charge_payment",
    "refund_payment",
    "schedule_shipment",
    "cancel_shipment",
    "start_order_workflows",
)


@pytest.fixture(scope="module")
def saga() -> Iterator[SagaCloud]:
    """One moto (Step Functions executing), the tables, the operator queue, the secret, the
    simulator and the handler modules for the whole module: each test runs its own order, so
    nothing collides."""
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
        for table in TABLES:
            create_table(boto3.client("dynamodb"), table, resource(table)["Properties"])
        queue_url = boto3.client("sqs").create_queue(QueueName="OperatorQueue")["QueueUrl"]
        secret = boto3.client("secretsmanager").create_secret(Name="Key", SecretString=API_KEY)
        arns = {
            machine: boto3.client("stepfunctions").create_state_machine(
                name=machine,
                definition=json.dumps(
                    substituted_definition(
                        machine,
                        {"OperatorQueue": queue_url},
                        SagaRetryIntervalSeconds=1,
                        SagaRetryMaxAttempts=1,
                        SagaCompensationRetryIntervalSeconds=1,
                        SagaCompensationRetryMaxAttempts=1,
                        PaymentProviderBreakerCooldownSeconds=1,
                    )
                ),
                roleArn=f"arn:aws:iam::123456789012:role/{machine}Role",
            )["stateMachineArn"]
            for machine in (SAGA, CANCELLATION)
        }
        for name, value in {
            **parameter_defaults("ChargePaymentFunction"),
            # The payment provider's circuit breaker is kept out of the way: its own tests cover
            # it, and this module's deliberate provider failures would otherwise open it.
            "CIRCUIT_BREAKER_MINIMUM_CALLS": "1000",
            "ORDERS_TABLE_NAME": "OrdersTable",
            "PAYMENTS_TABLE_NAME": "PaymentsTable",
            "SHIPPING_TABLE_NAME": "ShippingTable",
            "PAYMENT_PROVIDER_BASE_URL": provider.base_url,
            "SHOP_LOCALCLOUD": "true",  # the simulator is plain http, as on localcloud
            "PAYMENT_TOKEN_KEY_ID": payment_token_key(),  # given_placed seals with it
            "CUSTOMER_DATA_KEY_ID": customer_data_key(),
            "PAYMENT_PROVIDER_API_KEY_SECRET_ARN": secret["ARN"],
            "ORDER_SAGA_STATE_MACHINE_ARN": arns[SAGA],
            "ORDER_CANCELLATION_STATE_MACHINE_ARN": arns[CANCELLATION],
        }.items():
            env.setenv(name, value)
        # Given the customer of every order registered an address in Berlin (shipping kept it)
        DynamoDBShippingRepository("ShippingTable").save_address(
            CustomerAddress(
                customer_id=CUSTOMER,
                address=Address.model_validate(REGISTERED),
                as_of=datetime.now(UTC),
                event_id="evt-registered",
            )
        )
        inventory = FakeInventory()
        modules = {name: fresh_import(name) for name in HANDLER_MODULES}

        def lambda_handler(module: str) -> Callable[[dict[str, Any]], Any]:
            return lambda event: modules[module].handler(event, FakeLambdaContext())

        functions = SagaFunctions(
            handlers={
                "ReserveStockFunction": inventory.reserve,
                "ReleaseStockFunction": inventory.release,
                "ChargePaymentFunction": lambda_handler("charge_payment"),
                "RefundPaymentFunction": lambda_handler("refund_payment"),
                "ScheduleShipmentFunction": lambda_handler("schedule_shipment"),
                "CancelShipmentFunction": lambda_handler("cancel_shipment"),
                "ConfirmOrderFunction": lambda_handler("confirm_order"),
                "RejectOrderFunction": lambda_handler("reject_order"),
                "MarkOrderNeedsAttentionFunction": lambda_handler("mark_order_needs_attention"),
                "MarkOrderCancelledFunction": lambda_handler("mark_order_cancelled"),
            }
        )
        # A bound method on the class: moto's backend calls it without passing itself.
        env.setattr(LambdaBackend, "invoke", functions.invoke)
        yield SagaCloud(
            functions, inventory, provider, modules, arns[SAGA], arns[CANCELLATION], queue_url
        )


def order_state(saga: SagaCloud, order_id: str) -> tuple[str, str | None, int | None]:
    order = load(saga.orders, order_id)
    assert order is not None
    return order.status, order.reason, order.totalCents


# ---------------------------------------------------------------- the saga


def test_a_paid_order_is_shipped_and_confirmed_at_the_catalog_total(saga: SagaCloud) -> None:
    # When an order paid with tok_visa, without an address of its own, goes through the saga
    order_id, execution = saga.run("tok_visa")

    # Then the forward steps ran once each and the saga succeeded
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ScheduleShipment",
        "ConfirmOrder",
    ]
    output = json.loads(execution["output"])
    assert output["confirmation"] == {"orderId": order_id, "status": "CONFIRMED"}
    assert output["payment"]["amountCents"] == output["reservation"]["totalCents"] == TOTAL
    assert output["shipment"]["country"] == "DE"  # the registered address
    # And the order is CONFIRMED, the payment CHARGED once, the stock still reserved
    assert order_state(saga, order_id) == ("CONFIRMED", None, TOTAL)
    assert saga.payment(order_id)["status"] == "CHARGED"  # type: ignore[index]
    assert [c["reference"] for c in saga.provider.charges()].count(order_id) == 1
    assert order_id in saga.inventory.reserved
    # And the shipment is SCHEDULED with DHL (Germany), with its event
    shipment = saga.shipment(order_id)
    assert shipment is not None
    assert (shipment["status"], shipment["carrier"]) == ("SCHEDULED", "DHL")
    assert shipment["trackingId"] == output["shipment"]["trackingId"]
    assert saga.outbox("ShippingTable", order_id) == ["ShipmentScheduled"]
    assert saga.outbox("PaymentsTable", order_id) == ["PaymentCharged"]


def test_out_of_stock_rejects_at_once_without_retry_or_compensation(saga: SagaCloud) -> None:
    order_id = str(uuid.uuid4())
    saga.inventory.out_of_stock.add(order_id)

    placed_id, execution = saga.run(order_id=order_id)

    assert execution["status"] == "SUCCEEDED"  # a handled business outcome
    assert saga.functions.called(placed_id) == ["ReserveStock", "RejectOrder"]
    assert order_state(saga, placed_id) == ("REJECTED", "OUT_OF_STOCK", None)
    assert saga.payment(placed_id) is None
    assert saga.shipment(placed_id) is None


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
    assert saga.shipment(order_id) is None
    assert order_id not in saga.inventory.reserved


def test_a_card_token_that_does_not_open_for_the_order_is_rejected_without_retry(
    saga: SagaCloud,
) -> None:
    # Given an order whose card token was sealed for another order (a bug, or a ciphertext
    # copied from another order): KMS will never open it for this one
    order_id = str(uuid.uuid4())
    sealer = KmsTokenSealer(payment_token_key())
    request = PlaceOrderRequest.model_validate({"items": SAMPLE_ITEMS, "paymentToken": "tok_visa"})
    place_order(
        PlaceOrder(customerId=CUSTOMER, correlationId="corr-1", request=request),
        store=saga.orders,
        clock=utc_now,
        new_id=lambda: order_id,
        seal=lambda token, _: sealer(token, str(uuid.uuid4())),
        address_sealer=FakeSealer(),
    )

    # When its saga runs
    saga.deliver("start_order_saga", order_id)
    execution = wait_for_end(saga.saga_arn, order_id)

    # Then ChargePayment fails once with the named error, is not retried, charges nothing, and
    # the order is rejected cleanly: stock released, no payment, no refund asked, no shipment
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ReleaseStock",
        "RejectOrder",
    ]
    assert json.loads(execution["output"])["error"]["Error"] == "PaymentTokenUnreadable"
    assert order_state(saga, order_id) == ("REJECTED", "PAYMENT_TOKEN_UNREADABLE", None)
    assert saga.payment(order_id) is None
    assert [c for c in saga.provider.charges() if c["reference"] == order_id] == []
    assert saga.shipment(order_id) is None
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
    assert saga.refunds_of(order_id) == []
    assert order_id not in saga.inventory.reserved


def test_a_charge_whose_answers_are_all_lost_is_found_refunded_and_the_order_rejected(
    saga: SagaCloud,
) -> None:
    # Given a provider that charges the card but whose every answer to it gets lost
    saga.provider.answers_lost_per_request = 1000
    try:
        order_id, execution = saga.run("tok_lost_charge_answer")
    finally:
        saga.provider.answers_lost_per_request = 1

    # Then ChargePayment failed both attempts, and the saga refunded what it could not see
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ChargePayment",
        "RefundPayment",
        "ReleaseStock",
        "RejectOrder",
    ]
    assert json.loads(execution["output"])["refund"] == {"orderId": order_id, "status": "REFUNDED"}
    assert order_state(saga, order_id) == ("REJECTED", "PAYMENT_PROVIDER_UNAVAILABLE", None)
    # the one charge, found by its reference, was recorded and given back in full
    (charge,) = [c for c in saga.provider.charges() if c["reference"] == order_id]
    assert [(r["chargeId"], r["amountCents"]) for r in saga.refunds_of(order_id)] == [
        (charge["chargeId"], TOTAL)
    ]
    payment = saga.payment(order_id)
    assert payment is not None
    assert (payment["status"], payment["paymentId"]) == ("REFUNDED", charge["chargeId"])
    assert saga.outbox("PaymentsTable", order_id) == ["PaymentCharged", "PaymentRefunded"]
    assert order_id not in saga.inventory.reserved


def test_a_charge_whose_first_answer_is_lost_is_charged_once_and_confirmed(
    saga: SagaCloud,
) -> None:
    # When the provider charges, loses its answer once, and the retry gets the first answer
    order_id, execution = saga.run("tok_lost_charge_answer")

    # Then the order is confirmed with one charge, recorded once
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id)[:3] == ["ReserveStock", "ChargePayment", "ChargePayment"]
    assert order_state(saga, order_id) == ("CONFIRMED", None, TOTAL)
    assert [c["reference"] for c in saga.provider.charges()].count(order_id) == 1
    assert saga.refunds_of(order_id) == []
    assert saga.outbox("PaymentsTable", order_id) == ["PaymentCharged"]


def test_shipping_unavailable_refunds_once_releases_and_rejects_without_shipping(
    saga: SagaCloud,
) -> None:
    # When an order is to be shipped to Antarctica
    order_id, execution = saga.run("tok_visa", shipping_address=POLE)

    # Then ScheduleShipment refuses at once (not retried) and the finished steps are undone
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ScheduleShipment",
        "RefundPayment",
        "ReleaseStock",
        "RejectOrder",
    ]
    assert order_state(saga, order_id) == ("REJECTED", "SHIPPING_UNAVAILABLE", None)
    assert saga.payment(order_id)["status"] == "REFUNDED"  # type: ignore[index]
    assert [r["amountCents"] for r in saga.refunds_of(order_id)] == [TOTAL]
    assert saga.outbox("PaymentsTable", order_id) == ["PaymentCharged", "PaymentRefunded"]
    assert saga.shipment(order_id) is None  # nothing scheduled, no tombstone needed
    assert saga.outbox("ShippingTable", order_id) == []
    assert order_id not in saga.inventory.reserved
    assert saga.outbox("OrdersTable", order_id) == ["OrderPlaced", "OrderRejected"]


def test_a_failing_confirmation_cancels_refunds_releases_and_rejects_in_reverse_order(
    saga: SagaCloud,
) -> None:
    order_id = str(uuid.uuid4())
    saga.functions.broken.add(("ConfirmOrderFunction", order_id))

    placed_id, execution = saga.run(order_id=order_id)

    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(placed_id) == [
        "ReserveStock",
        "ChargePayment",
        "ScheduleShipment",
        "ConfirmOrder",
        "ConfirmOrder",
        "CancelShipment",
        "RefundPayment",
        "ReleaseStock",
        "RejectOrder",
    ]
    assert order_state(saga, placed_id) == ("REJECTED", "SAGA_FAILED", None)
    assert saga.payment(placed_id)["status"] == "REFUNDED"  # type: ignore[index]
    (charge,) = [c for c in saga.provider.charges() if c["reference"] == placed_id]
    assert [r["chargeId"] for r in saga.provider.refunds()].count(charge["chargeId"]) == 1
    assert placed_id not in saga.inventory.reserved
    assert saga.shipment(placed_id)["status"] == "CANCELLED"  # type: ignore[index]
    assert saga.outbox("ShippingTable", placed_id) == ["ShipmentScheduled", "ShipmentCancelled"]


def test_a_refund_that_keeps_failing_needs_attention_on_the_operator_queue(
    saga: SagaCloud,
) -> None:
    # Given a card the provider charges but never refunds, and an order to Antarctica
    order_id, execution = saga.run("tok_refund_fails", shipping_address=POLE)

    # Then the refund is retried, still fails, the stock is released anyway, and the order
    # NEEDS_ATTENTION instead of being rejected; the execution fails
    assert execution["status"] == "FAILED"
    assert (execution["error"], "operator queue" in execution["cause"]) == (
        "CompensationFailed",
        True,
    )
    assert saga.functions.called(order_id) == [
        "ReserveStock",
        "ChargePayment",
        "ScheduleShipment",
        "RefundPayment",
        "RefundPayment",
        "ReleaseStock",
        "MarkOrderNeedsAttention",
    ]
    assert order_state(saga, order_id) == ("NEEDS_ATTENTION", None, None)
    history = [item.recorded().data for item in saga.orders.history(order_id)]
    attention = history[-1].model_dump()
    assert attention["failedStep"] == "RefundPayment"
    assert attention["failedSteps"] == ["RefundPayment"]
    assert attention["error"] == "PaymentProviderUnavailable"
    assert attention["message"] == "The refund could not be made"
    assert saga.outbox("OrdersTable", order_id) == ["OrderPlaced", "OrderNeedsAttention"]
    # and the money is still charged (nothing refunded at the provider), the stock is back
    assert saga.payment(order_id)["status"] == "CHARGED"  # type: ignore[index]
    assert saga.refunds_of(order_id) == []
    assert order_id not in saga.inventory.reserved
    # and the operator queue has the case, without the card token
    (case,) = saga.operator_messages()
    assert case["workflow"] == "OrderSaga"
    assert (case["orderId"], case["customerId"]) == (order_id, CUSTOMER)
    assert case["executionArn"] == execution["executionArn"]
    assert list(case["compensationErrors"]) == ["RefundPayment"]
    assert case["error"]["Error"] == "ShippingUnavailable"  # why the saga compensated
    assert "tok_refund_fails" not in json.dumps(case)


def test_a_duplicated_start_does_nothing_the_second_time(saga: SagaCloud) -> None:
    # Given an order whose saga ran to its end
    order_id, first = saga.run("tok_visa")
    assert first["status"] == "SUCCEEDED"
    calls = len(saga.functions.calls)

    # When a second execution starts for the same order (EXPRESS starts one for a name it has
    # seen; the sweeper or an operator may start one too): another name, the same input
    client = boto3.client("stepfunctions")
    second_arn = client.start_execution(
        stateMachineArn=saga.saga_arn,
        name=f"{order_id}-again",
        input=json.dumps(json.loads(first["input"])),
    )["executionArn"]
    second = wait_for_end(saga.saga_arn, f"{order_id}-again")

    # Then it ended at its claim, a success that did nothing: no task ran, nothing changed
    assert (second["executionArn"], second["status"]) == (second_arn, "SUCCEEDED")
    output = json.loads(second["output"])
    assert output["claim"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert len(saga.functions.calls) == calls
    assert order_state(saga, order_id) == ("CONFIRMED", None, TOTAL)
    assert [c["reference"] for c in saga.provider.charges()].count(order_id) == 1
    assert saga.outbox("PaymentsTable", order_id) == ["PaymentCharged"]
    assert saga.outbox("OrdersTable", order_id) == ["OrderPlaced", "OrderConfirmed"]
    # and the claim names the first execution
    claim = (
        boto3.resource("dynamodb")
        .Table("OrdersTable")
        .get_item(Key={"pk": f"WORKFLOW#{order_id}", "sk": "SAGA"})["Item"]
    )
    assert claim["executionId"] == first["executionArn"]


@pytest.mark.parametrize(
    ("machine", "state"), [(SAGA, "ClaimOrder"), (CANCELLATION, "ClaimCancellation")]
)
def test_the_claim_lets_its_own_execution_claim_again_and_no_other(
    saga: SagaCloud, machine: str, state: str
) -> None:
    # Given the claim's put exactly as the definition makes it (its JSONPath filled in)
    parameters = substituted_definition(machine)["States"][state]["Parameters"]
    order_id = str(uuid.uuid4())

    def put(execution_id: str) -> None:
        def filled(value: dict[str, str]) -> dict[str, str]:
            ((key, path),) = value.items()
            if not key.endswith(".$"):
                return value
            text = {"$.orderId": order_id, "$$.Execution.Id": execution_id}.get(
                path, f"WORKFLOW#{order_id}" if "Format" in path else "2026-12-01T14:00:00Z"
            )
            return {key.removesuffix(".$"): text}

        boto3.client("dynamodb").put_item(
            TableName=parameters["TableName"],
            Item={name: filled(value) for name, value in parameters["Item"].items()},
            ConditionExpression=parameters["ConditionExpression"],
            ExpressionAttributeValues={
                name: filled(value)
                for name, value in parameters["ExpressionAttributeValues"].items()
            },
        )

    client = boto3.client("dynamodb")
    # When the first execution claims, then claims again (its retry), then another tries
    put("execution-1")
    put("execution-1")
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        put("execution-2")

    # Then the claim is the first execution's
    key = {"pk": {"S": f"WORKFLOW#{order_id}"}, "sk": parameters["Item"]["sk"]}
    claim = client.get_item(TableName="OrdersTable", Key=key)["Item"]
    assert claim["executionId"] == {"S": "execution-1"}


# ---------------------------------------------------------------- the cancellation


def test_a_confirmed_order_is_cancelled_once_every_step_undone(saga: SagaCloud) -> None:
    # Given a confirmed order
    order_id, _ = saga.run("tok_visa")
    tracking = saga.shipment(order_id)["trackingId"]  # type: ignore[index]

    # When its owner cancels it
    execution = saga.cancel(order_id)

    # Then the workflow undid every step, once, and the order is CANCELLED
    assert execution["status"] == "SUCCEEDED"
    assert saga.functions.called(order_id)[4:] == [
        "CancelShipment",
        "RefundPayment",
        "ReleaseStock",
        "MarkOrderCancelled",
    ]
    assert order_state(saga, order_id)[0] == "CANCELLED"
    assert saga.outbox("OrdersTable", order_id) == [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderCancellationRequested",
        "OrderCancelled",
    ]
    shipment = saga.shipment(order_id)
    assert shipment is not None
    assert (shipment["status"], shipment["trackingId"]) == ("CANCELLED", tracking)
    assert saga.outbox("ShippingTable", order_id) == ["ShipmentScheduled", "ShipmentCancelled"]
    assert saga.payment(order_id)["status"] == "REFUNDED"  # type: ignore[index]
    assert [r["amountCents"] for r in saga.refunds_of(order_id)] == [TOTAL]
    assert order_id not in saga.inventory.reserved
    # and a redelivered request record starts nothing new
    saga.deliver("start_order_cancellation", order_id)
    executions = boto3.client("stepfunctions").list_executions(
        stateMachineArn=saga.cancellation_arn
    )["executions"]
    assert [e["name"] for e in executions].count(f"cancel-{order_id}") == 1


def test_a_cancellation_whose_refund_keeps_failing_needs_attention(saga: SagaCloud) -> None:
    order_id, confirmed = saga.run("tok_refund_fails")
    assert confirmed["status"] == "SUCCEEDED"

    execution = saga.cancel(order_id)

    assert execution["status"] == "FAILED"
    assert saga.functions.called(order_id)[4:] == [
        "CancelShipment",
        "RefundPayment",
        "RefundPayment",
        "ReleaseStock",
        "MarkOrderNeedsAttention",
    ]
    assert order_state(saga, order_id)[0] == "NEEDS_ATTENTION"
    assert saga.shipment(order_id)["status"] == "CANCELLED"  # type: ignore[index]
    assert saga.payment(order_id)["status"] == "CHARGED"  # type: ignore[index]
    assert order_id not in saga.inventory.reserved
    (case,) = saga.operator_messages()
    assert (case["workflow"], case["orderId"]) == ("OrderCancellation", order_id)
    assert list(case["compensationErrors"]) == ["RefundPayment"]
