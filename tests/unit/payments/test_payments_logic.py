"""Charge and refund on in-memory fakes: once at the provider, one record, one event each."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from payments.errors import (
    PaymentAlreadyRefunded,
    PaymentDeclined,
    PaymentProviderUnavailable,
    PaymentTokenUnreadable,
)
from payments.logic import charge_payment, refund_payment
from payments.models import ChargePaymentInput, PaymentRecord, RefundPaymentInput
from shop_shared.events import DomainEvent
from tests.unit.payments.payments_fakes import (
    FakeProvider,
    InMemoryPayments,
    fake_open,
    fake_seal,
)

ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def charge_input(token: str = "tok_visa", total: int = 3470) -> ChargePaymentInput:
    return ChargePaymentInput.model_validate(
        {
            "orderId": ORDER_ID,
            "customerId": "c-1",
            "items": [{"sku": "MUG", "quantity": 1}],
            "paymentTokenCiphertext": fake_seal(token, ORDER_ID),
            "correlationId": "corr-1",
            "reservation": {"lines": [], "totalCents": total, "currency": "EUR"},
        }
    )


REFUND = RefundPaymentInput.model_validate({"orderId": ORDER_ID, "correlationId": "corr-1"})


@pytest.fixture
def payments() -> InMemoryPayments:
    return InMemoryPayments()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def charge(payments: InMemoryPayments, provider: FakeProvider, **kwargs: Any) -> Any:
    return charge_payment(
        charge_input(**kwargs),
        payments=payments,
        provider=provider,
        clock=clock,
        open_token=fake_open,
    )


def refund(payments: InMemoryPayments, provider: FakeProvider) -> Any:
    return refund_payment(REFUND, payments=payments, provider=provider, clock=clock)


def test_a_charge_records_the_payment_with_its_event(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # When the reserved total is charged
    result = charge(payments, provider)

    # Then the provider was asked once with the order's idempotency key
    ((request, key),) = provider.charge_calls
    assert key == f"charge-{ORDER_ID}"
    assert request.model_dump() == {
        "amountCents": 3470,
        "currency": "EUR",
        "token": "tok_visa",
        "reference": ORDER_ID,
    }
    # And one CHARGED record and one PaymentCharged event exist, the result mirrors the record
    assert result.model_dump() == {
        "paymentId": "ch_1",
        "amountCents": 3470,
        "currency": "EUR",
        "status": "CHARGED",
    }
    assert payments.records[ORDER_ID].status == "CHARGED"
    assert payments.records[ORDER_ID].chargedAt == NOW
    (event,) = payments.events
    assert (event.source, event.detail_type) == ("shop.payments", "PaymentCharged")
    assert json.loads(event.detail_json())["data"] == {
        "orderId": ORDER_ID,
        "paymentId": "ch_1",
        "amountCents": 3470,
        "currency": "EUR",
    }
    assert event.detail.metadata.correlationId == "corr-1"


def test_charging_twice_calls_the_provider_once(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    first = charge(payments, provider)
    second = charge(payments, provider)

    assert first == second
    assert len(provider.charge_calls) == 1
    assert payments.detail_types() == ["PaymentCharged"]


def test_a_decline_is_a_business_error_and_writes_nothing(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        charge(payments, provider, token="tok_declined")

    assert declined.value.code == "PAYMENT_DECLINED"
    assert payments.records == {}
    assert payments.events == []


def test_an_unavailable_provider_is_transient_and_writes_nothing(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    with pytest.raises(PaymentProviderUnavailable):
        charge(payments, provider, token="tok_unavailable")

    assert payments.records == {}
    assert payments.events == []


class RacedPayments(InMemoryPayments):
    """A duplicate of the step records its charge just before ours."""

    def record_charge(self, record: PaymentRecord, event: DomainEvent[Any]) -> None:
        if not self.records:
            super().record_charge(record.model_copy(update={"paymentId": "ch_first"}), event)
        super().record_charge(record, event)


def test_a_concurrent_duplicate_that_recorded_first_wins_without_a_second_event(
    provider: FakeProvider,
) -> None:
    # Given a duplicate of this step records the charge between our read and our write
    payments = RacedPayments()

    # When our step tries to record its charge
    result = charge(payments, provider)

    # Then it answers with the charge recorded first; one record, one event
    assert result.paymentId == "ch_first"
    assert payments.records[ORDER_ID].paymentId == "ch_first"
    assert payments.detail_types() == ["PaymentCharged"]


def test_a_refunded_payment_is_not_charged_again(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    charge(payments, provider)
    refund(payments, provider)

    with pytest.raises(PaymentAlreadyRefunded):
        charge(payments, provider)
    assert len(provider.charge_calls) == 1


def test_a_refund_gives_the_charge_back_once(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # Given a charged order
    charge(payments, provider)

    # When RefundPayment runs twice
    first = refund(payments, provider)
    second = refund(payments, provider)

    # Then one provider refund of the whole charge, one REFUNDED record, one PaymentRefunded
    assert first.model_dump() == second.model_dump() == {"orderId": ORDER_ID, "status": "REFUNDED"}
    ((request, key),) = provider.refund_calls
    assert (request.chargeId, request.amountCents, key) == ("ch_1", 3470, f"refund-{ORDER_ID}")
    record = payments.records[ORDER_ID]
    assert (record.status, record.refundId, record.refundedAt) == ("REFUNDED", "re_1", NOW)
    assert payments.detail_types() == ["PaymentCharged", "PaymentRefunded"]


def test_refunding_an_order_without_a_payment_changes_nothing(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    assert refund(payments, provider).status == "NOT_CHARGED"
    assert provider.refund_calls == []
    assert payments.records == {}
    assert payments.events == []


def test_a_refund_while_the_provider_is_down_is_transient_and_keeps_the_charge(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    charge(payments, provider)
    provider.down = True

    with pytest.raises(PaymentProviderUnavailable):
        refund(payments, provider)
    assert payments.records[ORDER_ID].status == "CHARGED"
    assert payments.detail_types() == ["PaymentCharged"]


def test_a_token_sealed_for_another_order_charges_nothing(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # Given the sealed token of another order, copied into this order's saga state
    other = fake_seal("tok_visa", "0d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f")
    task = charge_input().model_copy(update={"paymentTokenCiphertext": other})

    # When ChargePayment runs / Then it cannot open it, and the provider is never asked
    with pytest.raises(PaymentTokenUnreadable):
        charge_payment(
            task, payments=payments, provider=provider, clock=clock, open_token=fake_open
        )
    assert provider.charge_calls == []
    assert payments.records == {}


@pytest.mark.parametrize(
    "change",
    [
        {"paymentTokenCiphertext": "tok_visa"},  # a raw token is not a sealed one
        {"reservation": {"totalCents": 0, "currency": "EUR"}},
        {"reservation": {"totalCents": 10, "currency": "eur"}},
        {"orderId": "../x"},
        {"reservation": None},
    ],
)
def test_a_malformed_charge_input_is_refused(change: dict[str, Any]) -> None:
    state = {**charge_input().model_dump(), **change}
    with pytest.raises(ValidationError):
        ChargePaymentInput.model_validate(state)


# ---------------------------------------------------------------- charged, then the answer lost


def test_a_charge_whose_answer_was_lost_is_found_by_reference_and_refunded(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # Given the provider charged the card, but its answer never came back
    provider.lose_charge_answers = True
    with pytest.raises(PaymentProviderUnavailable):
        charge(payments, provider)
    assert payments.get(ORDER_ID) is None  # no record: the step could not know it charged
    assert payments.charge_attempted(ORDER_ID)  # but it wrote down that it asked

    # When the saga refunds the order, twice (a retried or duplicated step)
    first = refund(payments, provider)
    second = refund(payments, provider)

    # Then the charge was found at the provider by its reference and given back once
    assert first.status == second.status == "REFUNDED"
    assert len(provider.charged) == 1
    (charged,) = provider.charged.values()
    assert [(r.chargeId, r.amountCents) for r, _ in provider.refund_calls] == [
        (charged.chargeId, 3470)
    ]
    assert [key for _, key in provider.refund_calls] == [f"refund-{ORDER_ID}"]
    record = payments.get(ORDER_ID)
    assert record is not None
    assert (record.status, record.paymentId, record.amountCents) == (
        "REFUNDED",
        charged.chargeId,
        3470,
    )
    assert payments.detail_types() == ["PaymentCharged", "PaymentRefunded"]


def test_a_refund_of_an_order_whose_charge_never_reached_the_provider_asks_nobody(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # Given no charge was ever sent for the order (declined before, breaker open, never run)
    # When it is refunded, twice
    results = [refund(payments, provider), refund(payments, provider)]

    # Then nothing was asked of the provider and nothing written
    assert [r.status for r in results] == ["NOT_CHARGED", "NOT_CHARGED"]
    assert provider.lookups == []
    assert provider.refund_calls == []
    assert payments.records == {}


def test_a_refund_after_an_attempt_the_provider_did_not_charge_finds_nothing_to_give_back(
    payments: InMemoryPayments, provider: FakeProvider
) -> None:
    # Given the provider was asked but charged nothing (it answered 503 before charging)
    with pytest.raises(PaymentProviderUnavailable):
        charge(payments, provider, token="tok_unavailable")

    # When the order is refunded
    result = refund(payments, provider)

    # Then the provider was asked by reference, had nothing, and nothing was refunded
    assert result.status == "NOT_CHARGED"
    assert provider.lookups == [ORDER_ID]
    assert provider.refund_calls == []
    assert payments.records == {}
