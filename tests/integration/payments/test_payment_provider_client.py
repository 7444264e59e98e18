"""payments.provider.HttpPaymentProvider against the simulator: each answer's mapping."""

from __future__ import annotations

import pytest

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from payments.errors import PaymentDeclined, PaymentProviderError, PaymentProviderUnavailable
from payments.models import ChargeRequest, RefundRequest
from payments.provider import HttpPaymentProvider, api_key_from_secret

CHARGE = ChargeRequest(amountCents=3470, currency="EUR", token="tok_visa", reference="order-1")


def client(
    provider: PaymentProviderSimulator, key: str, timeout: float = 3.0
) -> HttpPaymentProvider:
    return HttpPaymentProvider(provider.base_url, lambda: key, timeout_seconds=timeout)


def test_the_api_key_comes_from_secrets_manager(
    api_key_secret_arn: str, provider: PaymentProviderSimulator
) -> None:
    # Given the key is in Secrets Manager
    http = HttpPaymentProvider(provider.base_url, api_key_from_secret(api_key_secret_arn))

    # When charging / Then the provider accepted the key
    charge = http.charge(CHARGE, idempotency_key="charge-order-1")
    assert charge.reference == "order-1"
    assert len(provider.charges()) == 1


def test_the_idempotency_key_makes_a_repeated_call_one_charge(
    provider: PaymentProviderSimulator, api_key: str
) -> None:
    first = client(provider, api_key).charge(CHARGE, idempotency_key="charge-order-1")
    again = client(provider, api_key).charge(CHARGE, idempotency_key="charge-order-1")

    assert first == again
    assert len(provider.charges()) == 1


def test_a_decline_carries_the_providers_message(
    provider: PaymentProviderSimulator, api_key: str
) -> None:
    declined = CHARGE.model_copy(update={"token": "tok_declined"})

    with pytest.raises(PaymentDeclined, match="Your card was declined"):
        client(provider, api_key).charge(declined, idempotency_key="charge-order-1")


def test_a_slow_provider_times_out_as_unavailable(
    provider: PaymentProviderSimulator, api_key: str
) -> None:
    provider.latency_seconds = 0.5

    with pytest.raises(PaymentProviderUnavailable):
        client(provider, api_key, timeout=0.1).charge(CHARGE, idempotency_key="charge-order-1")


def test_a_wrong_api_key_is_a_provider_error_not_a_retryable_one(
    provider: PaymentProviderSimulator,
) -> None:
    with pytest.raises(PaymentProviderError) as refused:
        client(provider, key="sk_wrong").charge(CHARGE, idempotency_key="charge-order-1")

    assert not isinstance(refused.value, PaymentProviderUnavailable)
    assert refused.value.context == {"status": 401}
    assert provider.charges() == []


def test_refunds_map_success_and_an_unknown_charge(
    provider: PaymentProviderSimulator, api_key: str
) -> None:
    charge = client(provider, api_key).charge(CHARGE, idempotency_key="charge-order-1")

    refund = client(provider, api_key).refund(
        RefundRequest(chargeId=charge.chargeId, amountCents=3470), idempotency_key="refund-order-1"
    )
    assert (refund.chargeId, refund.amountCents, refund.status) == (
        charge.chargeId,
        3470,
        "succeeded",
    )

    with pytest.raises(PaymentProviderError) as unknown:
        client(provider, api_key).refund(
            RefundRequest(chargeId="ch_unknown", amountCents=1), idempotency_key="refund-x"
        )
    assert unknown.value.context == {"status": 404}
