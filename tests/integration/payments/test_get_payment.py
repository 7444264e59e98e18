"""GetPayment (internal query, not on the API): get_payment.handler in-process on moto, after the
saga's real ChargePayment / RefundPayment, answering what orders' GET /orders/{id}/details reads."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from orders.details.models import PaymentAnswer
from tests.integration.payments.conftest import fresh_import
from tests.support.lambda_context import FakeLambdaContext

if TYPE_CHECKING:
    from tests.integration.payments.conftest import PaymentsState

SampleEvent = Callable[[str], dict[str, Any]]


@pytest.fixture
def get_payment(payments_env: None) -> ModuleType:
    return fresh_import("get_payment")


def ask(get_payment: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = get_payment.handler(event, FakeLambdaContext())
    return answer


def test_a_charged_payment_is_found(
    charge_payment: ModuleType,
    get_payment: ModuleType,
    state: PaymentsState,
    provider: PaymentProviderSimulator,
    sample_event: SampleEvent,
) -> None:
    # Given the saga charged the sample order
    charged = charge_payment.handler(sample_event("charge_payment"), FakeLambdaContext())
    before = state.items()
    charges_before = provider.charges()

    # When orders asks for the order's payment (the sample event), twice
    first = ask(get_payment, sample_event("get_payment"))
    second = ask(get_payment, sample_event("get_payment"))

    # Then it is the charge, as ChargePayment returned it; the table and the provider unchanged
    order_id = sample_event("get_payment")["orderId"]
    assert first == second == {"orderId": order_id, "found": True, "payment": charged}
    assert charged["status"] == "CHARGED"
    assert state.items() == before
    assert provider.charges() == charges_before
    # And orders reads it with its own model
    read = PaymentAnswer.model_validate(first)
    assert read.payment is not None
    assert read.payment.model_dump() == charged


def test_a_refunded_payment_is_found_refunded(
    charge_payment: ModuleType,
    refund_payment: ModuleType,
    get_payment: ModuleType,
    state: PaymentsState,
    sample_event: SampleEvent,
) -> None:
    # Given the sample order was charged, then refunded
    charged = charge_payment.handler(sample_event("charge_payment"), FakeLambdaContext())
    refund_payment.handler(sample_event("refund_payment"), FakeLambdaContext())
    before = state.items()

    # When orders asks for its payment
    answer = ask(get_payment, sample_event("get_payment"))

    # Then it is the same payment, REFUNDED, and nothing changed
    assert answer["found"] is True
    assert answer["payment"] == {**charged, "status": "REFUNDED"}
    assert state.items() == before
    assert PaymentAnswer.model_validate(answer).payment is not None


def test_an_order_never_charged_is_an_answer_not_an_error(
    get_payment: ModuleType, state: PaymentsState, sample_event: SampleEvent
) -> None:
    # Given no payment at all; When orders asks for the sample order's
    answer = ask(get_payment, sample_event("get_payment"))

    # Then "not found", and nothing was written
    order_id = sample_event("get_payment")["orderId"]
    assert answer == {"orderId": order_id, "found": False, "payment": None}
    assert state.items() == {}
    assert PaymentAnswer.model_validate(answer).payment is None


@pytest.mark.parametrize(
    "event",
    [{}, {"orderId": "../etc"}, {"orderId": "o-1", "paymentToken": "tok_visa"}],
    ids=["empty", "bad id", "unknown field"],
)
def test_a_malformed_query_is_refused(
    get_payment: ModuleType, state: PaymentsState, event: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        ask(get_payment, event)
    assert state.items() == {}
