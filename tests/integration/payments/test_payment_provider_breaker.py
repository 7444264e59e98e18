"""ChargePayment and RefundPayment behind the `payment-provider` circuit breaker, in-process on
moto against the simulator, with short thresholds (2 failures in 60 s, 1 s cool-down, no cache).
The two handler modules are two functions (two environments) sharing the breaker item."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from payments.errors import (
    PaymentDeclined,
    PaymentProviderCircuitOpen,
    PaymentProviderUnavailable,
)
from tests.integration.payments.conftest import fresh_import, sealed
from tests.support.breakers import breaker_counts
from tests.support.lambda_context import FakeLambdaContext

if TYPE_CHECKING:
    from tests.integration.payments.conftest import PaymentsState

SampleEvent = Callable[[str], dict[str, Any]]
COOLDOWN_SECONDS = 1.0
OTHER_ORDER = "0b9e6f5a-1c2d-4e3f-8a9b-c0d1e2f3a4b5"
NEVER_CHARGED = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"


class CountingSimulator(PaymentProviderSimulator):
    """The simulator, remembering every request it received (method, path)."""

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.requests: list[tuple[str, str]] = []

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, target))
        return super().handle(method, target, headers, body)


@pytest.fixture
def provider(api_key: str) -> Any:
    with CountingSimulator(api_key=api_key).serve() as simulator:
        yield simulator


@pytest.fixture
def handlers(payments_env: None, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.setenv("CIRCUIT_BREAKER_FAILURE_RATE_PERCENT", "50")
    monkeypatch.setenv("CIRCUIT_BREAKER_MINIMUM_CALLS", "2")
    monkeypatch.setenv("CIRCUIT_BREAKER_WINDOW_SECONDS", "60")
    monkeypatch.setenv("CIRCUIT_BREAKER_HALF_OPEN_CALLS", "1")
    monkeypatch.setenv("CIRCUIT_BREAKER_COOLDOWN_SECONDS", str(COOLDOWN_SECONDS))
    monkeypatch.setenv("CIRCUIT_BREAKER_CACHE_TTL_SECONDS", "0")
    return fresh_import("charge_payment"), fresh_import("refund_payment")


def invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = module.handler(event, FakeLambdaContext())
    return result


def charge_event(sample_event: SampleEvent, token: str, order_id: str | None = None) -> Any:
    event = sample_event("charge_payment")
    if order_id:
        event["orderId"] = order_id
    return {**event, "paymentTokenCiphertext": sealed(token, event["orderId"])}


def open_the_breaker(charge: ModuleType, sample_event: SampleEvent) -> None:
    """Two failed charges: >= 50% of >= 2 calls. (After one success, the first failure already
    opens it, and the second charge fails fast.)"""
    for _ in range(2):
        with pytest.raises((PaymentProviderUnavailable, PaymentProviderCircuitOpen)):
            invoke(charge, charge_event(sample_event, "tok_unavailable"))


def test_two_provider_failures_open_the_breaker_and_a_charge_then_fails_fast(
    handlers: tuple[ModuleType, ModuleType],
    state: PaymentsState,
    provider: CountingSimulator,
    sample_event: SampleEvent,
) -> None:
    charge, _ = handlers
    # Given the provider answered 503 twice
    open_the_breaker(charge, sample_event)
    assert len(provider.requests) == 2
    breaker = state.breaker()
    assert breaker is not None
    assert breaker["state"] == "OPEN"

    # When another order is charged with a good card
    with pytest.raises(PaymentProviderCircuitOpen) as raised:
        invoke(charge, charge_event(sample_event, "tok_visa", OTHER_ORDER))

    # Then it fails fast with the saga's business error, and the provider saw no request
    assert 0 < raised.value.retry_after_seconds <= COOLDOWN_SECONDS
    assert len(provider.requests) == 2
    assert provider.charges() == []
    assert state.payments() == {}
    assert state.outbox() == []


def test_after_the_cool_down_a_charge_probes_and_closes_the_breaker(
    handlers: tuple[ModuleType, ModuleType],
    state: PaymentsState,
    provider: CountingSimulator,
    sample_event: SampleEvent,
) -> None:
    charge, _ = handlers
    open_the_breaker(charge, sample_event)

    # When the cool-down is over and a good card is charged (twice: the saga may retry)
    time.sleep(COOLDOWN_SECONDS + 0.1)
    first = invoke(charge, charge_event(sample_event, "tok_visa", OTHER_ORDER))
    second = invoke(charge, charge_event(sample_event, "tok_visa", OTHER_ORDER))

    # Then the trial charged it once, and the breaker is CLOSED, counting afresh (the retry
    # found the order charged and did not call the provider)
    assert first == second
    (charged,) = provider.charges()
    assert charged["reference"] == OTHER_ORDER
    breaker = state.breaker()
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (0, 0))
    assert list(state.payments()) == [f"PAYMENT#{OTHER_ORDER}"]
    assert [detail_type for detail_type, _ in state.outbox()] == ["PaymentCharged"]


def test_declined_cards_never_open_the_breaker(
    handlers: tuple[ModuleType, ModuleType],
    state: PaymentsState,
    provider: CountingSimulator,
    sample_event: SampleEvent,
) -> None:
    charge, _ = handlers
    for _ in range(4):
        with pytest.raises(PaymentDeclined):
            invoke(charge, charge_event(sample_event, "tok_declined"))

    assert len(provider.requests) == 4
    # the breaker counted four calls, none failed; and the note that charge requests were sent
    assert set(state.items()) == {
        "BREAKER#payment-provider",
        f"CHARGE_ATTEMPT#{sample_event('charge_payment')['orderId']}",
    }
    breaker = state.breaker()
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (4, 0))


def test_a_refund_fails_fast_while_open_and_the_charge_stays(
    handlers: tuple[ModuleType, ModuleType],
    state: PaymentsState,
    provider: CountingSimulator,
    sample_event: SampleEvent,
) -> None:
    charge, refund = handlers
    # Given a charged order, then the provider failing twice for other orders
    payment = invoke(charge, sample_event("charge_payment"))
    open_the_breaker(charge, lambda name: {**sample_event(name), "orderId": OTHER_ORDER})
    requests = len(provider.requests)

    # When the charged order is refunded (by the other function, its own environment)
    with pytest.raises(PaymentProviderCircuitOpen):
        invoke(refund, sample_event("refund_payment"))

    # Then it failed fast: no refund request, the record still CHARGED, no PaymentRefunded
    assert len(provider.requests) == requests
    assert provider.refunds() == []
    record = state.payments()[f"PAYMENT#{sample_event('refund_payment')['orderId']}"]
    assert (record["status"], record["paymentId"]) == ("CHARGED", payment["paymentId"])
    assert [detail_type for detail_type, _ in state.outbox()] == ["PaymentCharged"]

    # And an order whose charge was never sent needs no provider: NOT_CHARGED even while open
    assert invoke(refund, {"orderId": NEVER_CHARGED, "correlationId": "c"}) == {
        "orderId": NEVER_CHARGED,
        "status": "NOT_CHARGED",
    }
    # but one whose charge was sent (and failed: maybe after charging) must ask the provider,
    # so it waits for the breaker too: not "nothing charged"
    with pytest.raises(PaymentProviderCircuitOpen):
        invoke(refund, {"orderId": OTHER_ORDER, "correlationId": "c"})
    assert len(provider.requests) == requests

    # And after the cool-down the refund goes through, once
    time.sleep(COOLDOWN_SECONDS + 0.1)
    assert invoke(refund, sample_event("refund_payment"))["status"] == "REFUNDED"
    assert invoke(refund, sample_event("refund_payment"))["status"] == "REFUNDED"
    assert len(provider.refunds()) == 1
    # and the other order is found to hold no charge at the provider
    assert invoke(refund, {"orderId": OTHER_ORDER, "correlationId": "c"})["status"] == (
        "NOT_CHARGED"
    )
    assert ("GET", f"/v1/charges?reference={OTHER_ORDER}") in [r[:2] for r in provider.requests]
    breaker = state.breaker()
    assert breaker is not None
    assert breaker["state"] == "CLOSED"
