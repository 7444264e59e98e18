"""ChargePayment and RefundPayment in-process on moto against the payment provider simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from payments.errors import PaymentDeclined, PaymentProviderUnavailable, PaymentTokenUnreadable
from tests.integration.payments.conftest import sealed
from tests.support.breakers import breaker_counts
from tests.support.lambda_context import FakeLambdaContext

if TYPE_CHECKING:
    from tests.integration.payments.conftest import PaymentsState

SampleEvent = Callable[[str], dict[str, Any]]

ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"  # events/charge_payment.json


def invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = module.handler(event, FakeLambdaContext())
    return result


def with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    return {**event, "paymentTokenCiphertext": sealed(token, event["orderId"])}


def test_a_charge_records_the_payment_and_its_event_in_one_go(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    event = sample_event("charge_payment")
    order_id = event["orderId"]

    # When the saga charges the sample order's reserved total
    result = invoke(charge_payment, event)

    # Then the provider charged it once, for the order
    (charge,) = provider.charges()
    assert (charge["amountCents"], charge["currency"], charge["reference"]) == (
        3470,
        "EUR",
        order_id,
    )
    # And the result, the CHARGED record and the PaymentCharged event agree
    assert result == {
        "paymentId": charge["chargeId"],
        "amountCents": 3470,
        "currency": "EUR",
        "status": "CHARGED",
    }
    record = state.payments()[f"PAYMENT#{order_id}"]
    assert {
        k: record[k] for k in ("orderId", "paymentId", "amountCents", "currency", "status")
    } == {
        "orderId": order_id,
        "paymentId": charge["chargeId"],
        "amountCents": 3470,
        "currency": "EUR",
        "status": "CHARGED",
    }
    assert state.outbox() == [
        (
            "PaymentCharged",
            {
                "orderId": order_id,
                "paymentId": charge["chargeId"],
                "amountCents": 3470,
                "currency": "EUR",
            },
        )
    ]


def test_charging_twice_charges_once(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    first = invoke(charge_payment, sample_event("charge_payment"))
    second = invoke(charge_payment, sample_event("charge_payment"))

    assert first == second
    assert len(provider.charges()) == 1
    assert len(state.payments()) == 1
    assert [detail_type for detail_type, _ in state.outbox()] == ["PaymentCharged"]


def test_a_charge_whose_record_was_lost_is_not_charged_twice(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    # Given a charge went through but its record never reached the table (a crash after the call)
    first = invoke(charge_payment, sample_event("charge_payment"))
    for pk in state.items():
        state.table.delete_item(Key={"pk": pk})

    # When the retried step charges again
    second = invoke(charge_payment, sample_event("charge_payment"))

    # Then the provider's Idempotency-Key (charge-<orderId>) answered with the same charge
    assert second == first
    assert len(provider.charges()) == 1
    assert len(state.payments()) == 1


def test_a_declined_card_raises_payment_declined_and_writes_nothing(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        invoke(charge_payment, with_token(sample_event("charge_payment"), "tok_declined"))

    assert type(declined.value).__name__ == "PaymentDeclined"  # the errorType the saga matches
    assert declined.value.message == "Your card was declined"
    # nothing but the note that a charge request was sent (so a refund knows to look), and the
    # breaker's count of one call that did not fail (a decline is an answer)
    assert set(state.items()) == {"BREAKER#payment-provider", f"CHARGE_ATTEMPT#{ORDER_ID}"}
    breaker = state.breaker()
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (1, 0))
    assert provider.charges() == []


def test_an_unavailable_provider_raises_a_transient_error_and_writes_nothing(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    with pytest.raises(PaymentProviderUnavailable):
        invoke(charge_payment, with_token(sample_event("charge_payment"), "tok_unavailable"))
    # No payment and no event; only the provider's circuit breaker counted the failure
    assert state.payments() == {}
    assert state.outbox() == []
    breaker = state.breaker()
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (1, 1))
    assert set(state.items()) == {"BREAKER#payment-provider", f"CHARGE_ATTEMPT#{ORDER_ID}"}
    attempt = state.items()[f"CHARGE_ATTEMPT#{ORDER_ID}"]
    assert (attempt["itemType"], attempt["orderId"]) == ("CHARGE_ATTEMPT", ORDER_ID)
    assert int(attempt["expiresAt"]) > time.time() + 29 * 24 * 3600  # the table's TTL, 30 days

    # And an unreachable provider is the same transient error
    provider.close()
    with pytest.raises(PaymentProviderUnavailable):
        invoke(charge_payment, sample_event("charge_payment"))
    assert state.payments() == {}
    assert state.outbox() == []
    breaker = state.breaker()
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (2, 2))
    assert set(state.items()) == {"BREAKER#payment-provider", f"CHARGE_ATTEMPT#{ORDER_ID}"}


def test_a_refund_gives_the_charge_back_once(
    charge_payment: ModuleType,
    refund_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    # Given a charged order
    payment = invoke(charge_payment, sample_event("charge_payment"))
    order_id = sample_event("refund_payment")["orderId"]

    # When the compensation runs twice (the sample state after ConfirmOrder failed)
    first = invoke(refund_payment, sample_event("refund_payment"))
    second = invoke(refund_payment, sample_event("refund_payment"))

    # Then one refund of the whole charge, the record REFUNDED, and one PaymentRefunded
    assert first == second == {"orderId": order_id, "status": "REFUNDED"}
    (refund,) = provider.refunds()
    assert (refund["chargeId"], refund["amountCents"]) == (payment["paymentId"], 3470)
    record = state.payments()[f"PAYMENT#{order_id}"]
    assert (record["status"], record["refundId"]) == ("REFUNDED", refund["refundId"])
    assert "refundedAt" in record
    assert [detail_type for detail_type, _ in state.outbox()] == [
        "PaymentCharged",
        "PaymentRefunded",
    ]
    assert state.outbox()[1][1] == {
        "orderId": order_id,
        "paymentId": payment["paymentId"],
        "amountCents": 3470,
        "currency": "EUR",
    }


def test_refunding_an_order_that_was_never_charged_changes_nothing(
    refund_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    result = invoke(refund_payment, sample_event("refund_payment"))

    assert result == {"orderId": sample_event("refund_payment")["orderId"], "status": "NOT_CHARGED"}
    assert state.items() == {}
    assert provider.refunds() == []


def test_a_refund_while_the_provider_is_down_is_transient_and_keeps_the_charge(
    charge_payment: ModuleType,
    refund_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    invoke(charge_payment, sample_event("charge_payment"))
    provider.close()

    with pytest.raises(PaymentProviderUnavailable):
        invoke(refund_payment, sample_event("refund_payment"))

    (record,) = state.payments().values()
    assert record["status"] == "CHARGED"
    assert [detail_type for detail_type, _ in state.outbox()] == ["PaymentCharged"]
    breaker = state.breaker()  # the refund's failure counts against the provider too
    assert breaker is not None
    assert (breaker["state"], breaker_counts(breaker)) == ("CLOSED", (2, 1))  # charge, refund


def test_a_token_sealed_for_another_order_is_not_opened_and_nothing_is_charged(
    charge_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    # Given the saga state of the sample order carrying another order's sealed token
    event = sample_event("charge_payment")
    event["paymentTokenCiphertext"] = sealed("tok_visa", "0d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f")

    # When ChargePayment runs / Then KMS does not open it for this order: nothing is charged
    with pytest.raises(PaymentTokenUnreadable):
        invoke(charge_payment, event)
    assert provider.charges() == []
    assert state.payments() == {}
