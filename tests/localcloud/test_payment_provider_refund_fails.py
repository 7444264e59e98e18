"""The simulator's `tok_refund_fails`: the charge succeeds, every refund of it answers 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from tests.localcloud.test_payment_provider import API_KEY, call

CHARGE = {"amountCents": 3470, "currency": "EUR", "token": "tok_refund_fails", "reference": "o-1"}


@pytest.fixture
def provider() -> Iterator[PaymentProviderSimulator]:
    with PaymentProviderSimulator(api_key=API_KEY).serve() as simulator:
        yield simulator


def test_a_charge_with_tok_refund_fails_succeeds_and_its_refunds_answer_500_every_time(
    provider: PaymentProviderSimulator,
) -> None:
    # Given a charge paid with tok_refund_fails
    status, charge = call(provider, "POST", "/v1/charges", CHARGE, key="charge-o-1")
    assert (status, charge["status"]) == (201, "succeeded")

    # When it is refunded, and retried with the same idempotency key
    refund = {"chargeId": charge["chargeId"], "amountCents": 3470}
    answers = [call(provider, "POST", "/v1/refunds", refund, key="refund-o-1") for _ in range(3)]

    # Then each attempt is a new 500 (not remembered), and nothing was refunded
    assert (
        answers
        == [(500, {"error": {"code": "refund_failed", "message": "The refund could not be made"}})]
        * 3
    )
    assert provider.refunds() == []
    assert [c["chargeId"] for c in provider.charges()] == [charge["chargeId"]]
    assert "token" not in provider.charges()[0]  # the token is not stored with the charge


def test_other_charges_still_refund(provider: PaymentProviderSimulator) -> None:
    _, failing = call(provider, "POST", "/v1/charges", CHARGE)
    _, visa = call(provider, "POST", "/v1/charges", {**CHARGE, "token": "tok_visa"})

    status, refund = call(
        provider, "POST", "/v1/refunds", {"chargeId": visa["chargeId"], "amountCents": 3470}
    )

    assert (status, refund["status"]) == (201, "succeeded")
    assert [r["chargeId"] for r in provider.refunds()] == [visa["chargeId"]]
    # and GET /v1/charges/<chargeId>/refunds lists a charge's refunds (for tests and operators)
    assert call(provider, "GET", f"/v1/charges/{visa['chargeId']}/refunds") == (
        200,
        {"items": [refund]},
    )
    assert call(provider, "GET", f"/v1/charges/{failing['chargeId']}/refunds") == (
        200,
        {"items": []},
    )
    assert call(provider, "GET", "/v1/charges/ch_unknown/refunds")[0] == 404
