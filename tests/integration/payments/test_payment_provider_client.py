"""payments.provider.HttpPaymentProvider against the simulator: each answer's mapping."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from payments.errors import PaymentDeclined, PaymentProviderError, PaymentProviderUnavailable
from payments.models import ChargeRequest, RefundRequest
from payments.provider import HttpPaymentProvider, api_key_from_secret
from payments.settings import PaymentsSettings

CHARGE = ChargeRequest(amountCents=3470, currency="EUR", token="tok_visa", reference="order-1")


def client(
    provider: PaymentProviderSimulator, key: str, timeout: float = 3.0
) -> HttpPaymentProvider:
    # The simulator speaks plain http, as on localcloud.
    return HttpPaymentProvider(
        provider.base_url, lambda: key, timeout_seconds=timeout, allow_plain_http=True
    )


def test_the_api_key_comes_from_secrets_manager(
    api_key_secret_arn: str, provider: PaymentProviderSimulator
) -> None:
    # Given the key is in Secrets Manager
    http = HttpPaymentProvider(
        provider.base_url, api_key_from_secret(api_key_secret_arn), allow_plain_http=True
    )

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


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with `status` and a Location to `location`, recording its headers."""

    status = 200
    location = ""
    seen: list[dict[str, str]]

    def _answer(self) -> None:
        self.seen.append({"path": self.path, **dict(self.headers.items())})
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        body = b'{"chargeId":"ch_elsewhere"}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:  # quiet
        return


@contextlib.contextmanager
def http_server(status: int, location: str = "") -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"status": status, "location": location, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_and_the_key_never_leaves_for_its_target(status: int) -> None:
    # Given a provider that redirects every call to another host (here: another local server)
    with (
        http_server(200) as (elsewhere, elsewhere_seen),
        http_server(status, location=f"{elsewhere.replace('127.0.0.1', 'localhost')}/steal") as (
            redirecting,
            redirecting_seen,
        ),
    ):
        http = HttpPaymentProvider(redirecting, lambda: "sk_secret", allow_plain_http=True)

        # When charging, refunding and listing / Then each is a provider error, not followed
        for call in (
            lambda: http.charge(CHARGE, idempotency_key="charge-order-1"),
            lambda: http.refund(
                RefundRequest(chargeId="ch_1", amountCents=1), idempotency_key="refund-order-1"
            ),
            lambda: http.find_charges("order-1"),
        ):
            with pytest.raises(PaymentProviderError, match="redirect") as refused:
                call()
            assert not isinstance(refused.value, PaymentProviderUnavailable)
            assert refused.value.context["status"] == status

        # And the provider was asked three times, the redirect's target never
        assert len(redirecting_seen) == 3
        assert elsewhere_seen == []


def test_a_redirect_to_the_same_host_is_refused_too() -> None:
    with http_server(302, location="/v1/charges-moved") as (base_url, seen):
        http = HttpPaymentProvider(base_url, lambda: "sk_secret", allow_plain_http=True)

        with pytest.raises(PaymentProviderError, match="redirect"):
            http.charge(CHARGE, idempotency_key="charge-order-1")

        assert [request["path"] for request in seen] == ["/v1/charges"]


@pytest.mark.parametrize("base_url", ["http://provider.example", "HTTP://provider.example/v1"])
def test_a_plain_http_base_url_is_refused_outside_localcloud(base_url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        HttpPaymentProvider(base_url, lambda: "sk_secret")


def test_the_settings_refuse_plain_http_unless_localcloud_says_it_is_local() -> None:
    # Given the environment of a payments function with a plain-http provider
    env = {
        "PAYMENTS_TABLE_NAME": "PaymentsTable",
        "PAYMENT_PROVIDER_BASE_URL": "http://127.0.0.1:9999",
        "PAYMENT_PROVIDER_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:k",
        "CIRCUIT_BREAKER_FAILURE_RATE_PERCENT": "50",
        "CIRCUIT_BREAKER_MINIMUM_CALLS": "5",
        "CIRCUIT_BREAKER_WINDOW_SECONDS": "60",
        "CIRCUIT_BREAKER_HALF_OPEN_CALLS": "1",
        "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "30",
        "CIRCUIT_BREAKER_CACHE_TTL_SECONDS": "1",
    }
    # Then it is refused at cold start outside localcloud, and even so when the URL "looks" local
    with pytest.raises(ValidationError, match="https"):
        PaymentsSettings.model_validate(env)
    with pytest.raises(ValidationError, match="https"):
        PaymentsSettings.model_validate({**env, "SHOP_LOCALCLOUD": "false"})

    # And accepted only when localcloud declares the function local
    local = PaymentsSettings.model_validate({**env, "SHOP_LOCALCLOUD": "true"})
    assert local.localcloud is True
    https = PaymentsSettings.model_validate(
        {**env, "PAYMENT_PROVIDER_BASE_URL": "https://api.provider.example"}
    )
    assert https.localcloud is False
