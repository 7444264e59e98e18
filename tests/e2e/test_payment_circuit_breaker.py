"""End to end on localcloud: the payment provider's circuit breaker, through the public API.

localcloud runs with short breaker thresholds (2 transient failures in 60 s open it, 20 s
cool-down, 0.5 s cache) and the saga retrying a transient error once after 1 s. The payment
provider is a simulator in this test's process that records every request it gets, so the
test counts what reached the provider for each order.

An order whose charge was sent is never taken for "nothing charged": when its charge fails and
the breaker is open, its refund waits out the cool-down and asks the provider by reference.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from tests.support.breakers import breaker_counts
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shop import (
    Client,
    final_order,
    item,
    new_customer,
    new_product,
    order_events,
    outbox,
    scan,
    stock_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-breaker")]

API_KEY = f"sk_test_{uuid.uuid4().hex}"
RETRY_MAX_ATTEMPTS = 1
COOLDOWN_SECONDS = 20  # covers the next order's way to its charge on a busy machine
OVERRIDES = {
    "SagaRetryIntervalSeconds": "1",
    "SagaRetryMaxAttempts": str(RETRY_MAX_ATTEMPTS),
    # Opens when >= 60% of >= 2 calls within 60 s failed: an order's two failed attempts on a
    # fresh breaker (2 of 2), or after one good charge (2 of 3), but not its first failure
    # after a good charge (1 of 2)
    "PaymentProviderBreakerFailureRatePercent": "60",
    "PaymentProviderBreakerMinimumCalls": "2",
    "PaymentProviderBreakerWindowSeconds": "60",
    "PaymentProviderBreakerCooldownSeconds": str(COOLDOWN_SECONDS),
    "PaymentProviderBreakerHalfOpenCalls": "1",
    "PaymentProviderBreakerCacheTtlSeconds": "0.5",
}
BREAKER = "BREAKER#payment-provider"


class CountingProvider(PaymentProviderSimulator):
    """The simulator, recording each request: (method, path, the charge's reference)."""

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self._seen_lock = threading.Lock()
        self.seen: list[tuple[str, str, str | None]] = []

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            reference = json.loads(body or b"{}").get("reference")
        except (ValueError, AttributeError):
            reference = None
        with self._seen_lock:
            self.seen.append((method, target, reference))
        return super().handle(method, target, headers, body)

    def lookups(self, order_id: str) -> int:
        """GET /v1/charges?reference=<order>: a refund asking whether the order was charged."""
        with self._seen_lock:
            return self.seen.count(("GET", f"/v1/charges?reference={order_id}", None))

    def charge_attempts(self, order_id: str) -> int:
        with self._seen_lock:
            return sum(
                1
                for method, path, ref in self.seen
                if (method, path, ref) == ("POST", "/v1/charges", order_id)
            )


@pytest.fixture(scope="module")
def provider() -> Iterator[CountingProvider]:
    simulator = CountingProvider(api_key=API_KEY)
    with simulator.serve():
        yield simulator


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, provider: CountingProvider
) -> Iterator[RunningLocalCloud]:
    overrides = {**OVERRIDES, "PaymentProviderBaseUrl": provider.base_url}
    with localcloud_process(
        tmp_path_factory.mktemp("breaker"), overrides=overrides, payment_provider_api_key=API_KEY
    ) as running:
        yield running


def breaker_item(cloud: RunningLocalCloud) -> dict[str, Any]:
    found = item(cloud, "PaymentsTable", pk=BREAKER)
    assert found is not None, "the breaker was never written"
    return found


def place(customer: Client, sku: str, token: str) -> str:
    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 1}], "paymentToken": token}
    )
    assert status == 202, placed
    return str(placed["orderId"])


def breaker_state(cloud: RunningLocalCloud) -> str | None:
    found = item(cloud, "PaymentsTable", pk=BREAKER)
    return None if found is None else str(found["state"])


def charge_invocations(
    cloud: RunningLocalCloud, order_id: str, function: str = "ChargePaymentFunction"
) -> list[str]:
    """How each invocation of `function` by the order's saga ended: its errorType, or
    "succeeded" (from the execution's history)."""
    sfn = cloud.aws.stepfunctions
    machine = cloud.status()["environments"]["StartOrderWorkflowsFunction"][
        "ORDER_SAGA_STATE_MACHINE_ARN"
    ]
    (execution,) = [
        e
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
        if e["name"] == order_id
    ]
    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
    outcomes, charging = [], False
    for event in events["events"]:
        if event["type"] == "LambdaFunctionScheduled":
            resource = event["lambdaFunctionScheduledEventDetails"]["resource"]
            charging = resource.endswith(f":{function}")
        elif charging and event["type"] == "LambdaFunctionSucceeded":
            outcomes.append("succeeded")
            charging = False
        elif charging and event["type"] == "LambdaFunctionFailed":
            outcomes.append(event["lambdaFunctionFailedEventDetails"]["error"])
            charging = False
    return outcomes


def decided_at(order: dict[str, Any]) -> float:
    """When the order left PENDING, in epoch seconds."""
    at = order["history"][-1]["at"]
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def reservation_status(cloud: RunningLocalCloud, order_id: str) -> str | None:
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")
    return None if reservation is None else str(reservation["status"])


def test_an_unavailable_provider_opens_the_breaker_and_orders_fail_fast_until_it_recovers(
    cloud: RunningLocalCloud, provider: CountingProvider
) -> None:
    admin = Client(cloud, cloud.token("breaker-admin", admin=True))
    sku = new_product(admin, stock=10)
    customer = new_customer(cloud)

    # ---- When an order is paid with a card the provider answers 503 for
    unavailable = place(customer, sku, "tok_unavailable")
    assert eventually(lambda: breaker_state(cloud) == "OPEN"), "the breaker did not open"
    opened = breaker_item(cloud)
    assert opened["version"] == 1  # two failed calls counted, then opened
    # ---- And another order, with a good card, comes right after, while the breaker is open
    fast = place(customer, sku, "tok_visa")

    second = final_order(customer, fast)
    assert (opened["itemType"], opened["name"], opened["state"]) == (
        "BREAKER",
        "payment-provider",
        "OPEN",
    )

    # Then the second is REJECTED fast, for the provider being unavailable, and the provider
    # never heard of it: its charge was never sent (no retry of an open breaker), so its refund
    # knew there was nothing to give back without asking
    assert (second["status"], second.get("reason")) == (
        "REJECTED",
        "PAYMENT_PROVIDER_UNAVAILABLE",
    )
    assert provider.charge_attempts(fast) == 0
    assert provider.lookups(fast) == 0
    assert charge_invocations(cloud, fast) == ["PaymentProviderCircuitOpen"]  # no retry
    assert charge_invocations(cloud, fast, "RefundPaymentFunction") == ["succeeded"]
    assert decided_at(second) < int(opened["openedAtMs"]) / 1000 + COOLDOWN_SECONDS

    # ---- And the first order: its charge was sent, so it may have charged. It is not
    # rejected as "nothing charged": its refund waits out the cool-down and then asks the
    # provider by reference (the one probe), which closes the breaker
    first = final_order(customer, unavailable)
    assert provider.charge_attempts(unavailable) == 1 + RETRY_MAX_ATTEMPTS
    assert charge_invocations(cloud, unavailable) == ["PaymentProviderUnavailable"] * (
        1 + RETRY_MAX_ATTEMPTS
    )
    assert charge_invocations(cloud, unavailable, "RefundPaymentFunction") == [
        "PaymentProviderCircuitOpen",
        "succeeded",
    ]
    assert provider.lookups(unavailable) == 1
    assert (first["status"], first.get("reason")) == ("REJECTED", "PAYMENT_PROVIDER_UNAVAILABLE")
    assert decided_at(first) >= int(opened["openedAtMs"]) / 1000 + COOLDOWN_SECONDS
    assert breaker_counts(opened) == (0, 0)  # each state counts afresh
    closed = breaker_item(cloud)
    assert (closed["state"], breaker_counts(closed)) == ("CLOSED", (0, 0))
    assert "openedAtMs" not in closed
    assert closed["version"] == opened["version"] + 2  # half-open (the trial), then closed
    # And for both: nothing charged, the stock back, the events say what happened
    for order_id in (unavailable, fast):
        assert item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}") is None
        assert reservation_status(cloud, order_id) == "RELEASED"
        assert order_events(cloud, order_id) == ["OrderPlaced", "OrderRejected"]
        (rejected,) = outbox(cloud, "OrdersTable", "OrderRejected", order_id)
        assert rejected["data"]["reason"] == "PAYMENT_PROVIDER_UNAVAILABLE"
        assert outbox(cloud, "PaymentsTable", "PaymentCharged", order_id) == []
        assert item(cloud, "ShippingTable", pk=f"SHIPMENT#{order_id}") is None  # never reached
    assert stock_of(cloud, sku) == 10

    # ---- When an order with a good card comes now
    recovered = place(customer, sku, "tok_visa")
    order = final_order(customer, recovered)

    # Then its charge went through at once, and the breaker stayed CLOSED, counting it
    assert order["status"] == "CONFIRMED", order
    assert provider.charge_attempts(recovered) == 1
    assert charge_invocations(cloud, recovered) == ["succeeded"]
    after = breaker_item(cloud)
    assert (after["state"], after["version"], breaker_counts(after)) == (
        "CLOSED",
        closed["version"],
        (1, 0),
    )
    payment = item(cloud, "PaymentsTable", pk=f"PAYMENT#{recovered}")
    assert payment is not None
    assert payment["status"] == "CHARGED"
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", recovered)) == 1
    assert reservation_status(cloud, recovered) == "RESERVED"
    assert stock_of(cloud, sku) == 9
    shipment = item(cloud, "ShippingTable", pk=f"SHIPMENT#{recovered}")
    assert shipment is not None
    assert shipment["status"] == "SCHEDULED"
    assert order_events(cloud, recovered) == ["OrderPlaced", "OrderConfirmed"]

    # And across the whole story: one charge at the provider, one payment record, one breaker
    assert [c["reference"] for c in provider.charges()] == [recovered]
    payments = [i["pk"] for i in scan(cloud, "PaymentsTable") if i.get("itemType") != "EVENT"]
    assert sorted(payments) == sorted(
        [
            BREAKER,
            f"PAYMENT#{recovered}",
            f"CHARGE_ATTEMPT#{unavailable}",  # the notes that a charge was sent
            f"CHARGE_ATTEMPT#{recovered}",
        ]
    )


def test_a_charge_whose_answers_are_lost_while_the_breaker_opens_is_refunded(
    cloud: RunningLocalCloud, provider: CountingProvider
) -> None:
    admin = Client(cloud, cloud.token("breaker-admin-2", admin=True))
    sku = new_product(admin, stock=4)
    customer = new_customer(cloud)
    assert breaker_state(cloud) in (None, "CLOSED")

    # Given a provider that charges the card, then holds the answer past the client's timeout,
    # every time: each attempt counts as a provider failure, and two of them open the breaker
    # (2 of 2 calls, or 2 of 3 with the previous test's good charge still in the window)
    provider.lost_answer_mode = "stall"
    provider.stall_seconds = 5  # the client gives up after 3 s
    provider.answers_lost_per_request = 1000
    try:
        # When an order is paid with that card
        order_id = place(customer, sku, "tok_lost_charge_answer")
        order = final_order(customer, order_id)
    finally:
        provider.answers_lost_per_request = 1
        provider.lost_answer_mode = "drop"

    # Then both charge attempts failed (the second opened the breaker), and the refund, which
    # met the open breaker, waited out the cool-down, found the charge by reference and gave it
    # back: the order is REJECTED and the customer keeps no charge
    assert provider.charge_attempts(order_id) == 1 + RETRY_MAX_ATTEMPTS
    assert charge_invocations(cloud, order_id) == ["PaymentProviderUnavailable"] * 2
    assert charge_invocations(cloud, order_id, "RefundPaymentFunction") == [
        "PaymentProviderCircuitOpen",
        "succeeded",
    ]
    assert provider.lookups(order_id) == 1
    assert (order["status"], order.get("reason")) == ("REJECTED", "PAYMENT_PROVIDER_UNAVAILABLE")
    (charge,) = [c for c in provider.charges() if c["reference"] == order_id]
    refunds = [r for r in provider.refunds() if r["chargeId"] == charge["chargeId"]]
    assert [r["amountCents"] for r in refunds] == [charge["amountCents"]]
    payment = item(cloud, "PaymentsTable", pk=f"PAYMENT#{order_id}")
    assert payment is not None
    assert (payment["status"], payment["paymentId"]) == ("REFUNDED", charge["chargeId"])
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentRefunded", order_id)) == 1
    assert reservation_status(cloud, order_id) == "RELEASED"
    assert stock_of(cloud, sku) == 4
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderRejected"]
    assert breaker_state(cloud) == "CLOSED"
