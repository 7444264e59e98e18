"""charge_payment / refund_payment through the `payment-provider` breaker, on in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from payments.errors import PaymentDeclined, PaymentProviderCircuitOpen, PaymentProviderUnavailable
from payments.logic import charge_payment, refund_payment
from payments.models import ChargePaymentInput, RefundPaymentInput
from payments.provider import PAYMENT_PROVIDER_BREAKER, BreakerGuardedProvider
from shop_shared.circuit_breaker import BreakerConfig, CircuitBreaker, CircuitState
from tests.unit.payments.payments_fakes import FakeProvider, InMemoryPayments, fake_open, fake_seal
from tests.unit.shared.breaker_fakes import FakeClock, InMemoryBreakerStore

# Opens at >= 50% failed of >= 3 calls within 60 s; one trial call after 30 s.
CONFIG = BreakerConfig(
    failure_rate_threshold=0.5,
    minimum_calls=3,
    window_seconds=60,
    cooldown_seconds=30,
    half_open_calls=1,
    cache_ttl_seconds=1,
)
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def order_id(n: int) -> str:
    return f"7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e{n:02d}"


def charge_input(n: int, token: str = "tok_visa") -> ChargePaymentInput:
    return ChargePaymentInput.model_validate(
        {
            "orderId": order_id(n),
            "paymentTokenCiphertext": fake_seal(token, order_id(n)),
            "reservation": {"totalCents": 1250, "currency": "EUR"},
        }
    )


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = InMemoryBreakerStore()
        self.payments = InMemoryPayments()
        self.fake = FakeProvider()
        breaker = CircuitBreaker(
            PAYMENT_PROVIDER_BREAKER,
            store=self.store,
            config=CONFIG,
            open_error=PaymentProviderCircuitOpen,
            clock=self.clock,
        )
        self.provider = BreakerGuardedProvider(self.fake, breaker)

    def charge(self, n: int, token: str = "tok_visa") -> object:
        return charge_payment(
            charge_input(n, token),
            payments=self.payments,
            provider=self.provider,
            clock=lambda: NOW,
            open_token=fake_open,
        )

    def refund(self, n: int) -> object:
        return refund_payment(
            RefundPaymentInput(orderId=order_id(n)),
            payments=self.payments,
            provider=self.provider,
            clock=lambda: NOW,
        )

    def breaker_state(self) -> CircuitState:
        return self.store.records[PAYMENT_PROVIDER_BREAKER].state

    def breaker_window(self) -> tuple[int, int]:
        """(calls, failures) the breaker counted in its window."""
        return self.store.records[PAYMENT_PROVIDER_BREAKER].window(self.clock.now, CONFIG)


@pytest.fixture
def world() -> World:
    return World()


def test_an_open_breaker_rejects_a_charge_without_calling_the_provider(world: World) -> None:
    # Given three orders the provider could not charge (503)
    for n in range(3):
        with pytest.raises(PaymentProviderUnavailable):
            world.charge(n, "tok_unavailable")
    assert world.breaker_state() is CircuitState.OPEN
    calls = len(world.fake.charge_calls)

    # When a fourth order with a good card is charged
    with pytest.raises(PaymentProviderCircuitOpen) as raised:
        world.charge(3)

    # Then the provider was not asked, and no payment or event exists
    assert len(world.fake.charge_calls) == calls
    assert world.payments.records == {}
    assert world.payments.events == []
    assert raised.value.code == "PAYMENT_PROVIDER_CIRCUIT_OPEN"


def test_an_order_already_charged_is_answered_even_while_open(world: World) -> None:
    # Given a charged order, then the breaker opened (2 of 3 calls failed)
    first = world.charge(0)
    for n in range(1, 3):
        with pytest.raises(PaymentProviderUnavailable):
            world.charge(n, "tok_unavailable")

    # When the saga retries the charge of the first order
    again = world.charge(0)

    # Then its recorded payment is returned: the breaker is not in the way of a replay
    assert again == first
    assert world.payments.detail_types() == ["PaymentCharged"]


def test_declines_are_answers_and_do_not_open_the_breaker(world: World) -> None:
    for n in range(5):
        with pytest.raises(PaymentDeclined):
            world.charge(n, "tok_declined")

    assert world.breaker_state() is CircuitState.CLOSED
    assert world.breaker_window() == (5, 0)  # five calls, none failed
    assert world.charge(5)  # still calls through


def test_a_refund_while_open_fails_fast_and_succeeds_after_the_cool_down(world: World) -> None:
    # Given a charged order and an open breaker (2 of 3 calls failed)
    world.charge(0)
    for n in range(1, 3):
        with pytest.raises(PaymentProviderUnavailable):
            world.charge(n, "tok_unavailable")

    # When the order is refunded while open
    with pytest.raises(PaymentProviderCircuitOpen):
        world.refund(0)

    # Then nothing was refunded; after the cool-down the refund is the probe and closes it
    assert world.fake.refund_calls == []
    assert world.payments.records[order_id(0)].status == "CHARGED"
    world.clock.advance(CONFIG.cooldown_seconds)
    world.refund(0)
    assert len(world.fake.refund_calls) == 1
    assert world.payments.records[order_id(0)].status == "REFUNDED"
    assert world.payments.detail_types() == ["PaymentCharged", "PaymentRefunded"]
    assert world.breaker_state() is CircuitState.CLOSED


def test_a_failing_note_of_the_attempt_is_not_the_providers_failure(world: World) -> None:
    # Given PaymentsTable failing (500) when the charge attempt is noted
    def failing(order_id: str, at: datetime) -> None:
        raise ClientError(
            {
                "Error": {"Code": "InternalServerError", "Message": "DynamoDB is down"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "PutItem",
        )

    world.payments.mark_charge_attempt = failing  # type: ignore[method-assign]

    # When three charges fail on it (the breaker opens at three provider failures)
    for n in range(3):
        with pytest.raises(ClientError):
            world.charge(n)

    # Then the request was never sent, and the provider's breaker counted no failure against it
    assert world.fake.charge_calls == []
    assert world.breaker_state() is CircuitState.CLOSED
    assert world.breaker_window() == (3, 0)
