"""The payment provider simulator over real HTTP: the contract of docs/contracts.md."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.faults.api import parse_rules
from localcloud.faults.rules import FaultRegistry
from localcloud.payment_provider.simulator import PaymentProviderSimulator

API_KEY = "sk_test_simulator"
CHARGE = {"amountCents": 3470, "currency": "EUR", "token": "tok_visa", "reference": "order-1"}


@pytest.fixture
def provider() -> Iterator[PaymentProviderSimulator]:
    with PaymentProviderSimulator(api_key=API_KEY).serve() as simulator:
        yield simulator


def call(
    provider: PaymentProviderSimulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    api_key: str = API_KEY,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        provider.base_url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_it_serves_on_a_free_local_port_and_stops() -> None:
    # Given two simulators on free ports
    with (
        PaymentProviderSimulator(api_key=API_KEY).serve() as one,
        PaymentProviderSimulator(api_key=API_KEY).serve() as two,
    ):
        assert 0 < one.port != two.port > 0
        assert one.base_url == f"http://127.0.0.1:{one.port}"
        status, _ = call(one, "GET", "/v1/charges")
        assert status == 200
        url = one.base_url

    # When closed / Then nothing answers there any more
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/v1/charges", timeout=2)


def test_a_charge_succeeds_and_is_listed_by_reference(provider: PaymentProviderSimulator) -> None:
    # When a valid charge is posted
    status, charge = call(provider, "POST", "/v1/charges", CHARGE)

    # Then 201 with the charge (never the token), which the accessor and the API both list
    assert status == 201
    expected = {
        "chargeId": charge["chargeId"],
        "status": "succeeded",
        "amountCents": 3470,
        "currency": "EUR",
        "reference": "order-1",
    }
    assert charge == expected
    assert charge["chargeId"].startswith("ch_")
    assert provider.charges() == [expected]
    assert call(provider, "GET", "/v1/charges?reference=order-1")[1]["items"] == provider.charges()
    assert call(provider, "GET", "/v1/charges?reference=other")[1] == {"items": []}


def test_declined_and_unavailable_tokens(provider: PaymentProviderSimulator) -> None:
    declined = call(provider, "POST", "/v1/charges", {**CHARGE, "token": "tok_declined"})
    unavailable = call(provider, "POST", "/v1/charges", {**CHARGE, "token": "tok_unavailable"})

    assert declined == (
        402,
        {"error": {"code": "card_declined", "message": "Your card was declined"}},
    )
    assert unavailable[0] == 503
    assert unavailable[1]["error"]["code"] == "unavailable"
    assert provider.charges() == []


@pytest.mark.parametrize(
    "body",
    [
        {**CHARGE, "amountCents": 0},
        {**CHARGE, "amountCents": True},
        {**CHARGE, "amountCents": "3470"},
        {**CHARGE, "currency": "euro"},
        {**CHARGE, "token": "4242"},
        {**CHARGE, "reference": ""},
        [CHARGE],
    ],
)
def test_a_malformed_charge_is_a_400(provider: PaymentProviderSimulator, body: Any) -> None:
    status, answer = call(provider, "POST", "/v1/charges", body)

    assert status == 400
    assert answer["error"]["code"] == "invalid_request"
    assert provider.charges() == []


def test_requests_without_the_api_key_are_401(provider: PaymentProviderSimulator) -> None:
    assert call(provider, "POST", "/v1/charges", CHARGE, api_key="wrong")[0] == 401
    assert call(provider, "GET", "/v1/charges", api_key="")[0] == 401
    assert provider.charges() == []


def test_the_same_idempotency_key_returns_the_first_answer(
    provider: PaymentProviderSimulator,
) -> None:
    first = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")
    again = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")
    other_key = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-2")

    assert first == again
    assert other_key[1]["chargeId"] != first[1]["chargeId"]
    assert len(provider.charges()) == 2


def test_a_declined_answer_is_remembered_but_an_unavailable_one_is_not(
    provider: PaymentProviderSimulator,
) -> None:
    declined = {**CHARGE, "token": "tok_declined"}
    assert call(provider, "POST", "/v1/charges", declined, key="k-declined")[0] == 402
    assert call(provider, "POST", "/v1/charges", CHARGE, key="k-declined")[0] == 402

    unavailable = {**CHARGE, "token": "tok_unavailable"}
    assert call(provider, "POST", "/v1/charges", unavailable, key="k-down")[0] == 503
    assert call(provider, "POST", "/v1/charges", CHARGE, key="k-down")[0] == 201
    assert len(provider.charges()) == 1


def test_refunds_up_to_the_charge_and_idempotent(provider: PaymentProviderSimulator) -> None:
    # Given a charge
    charge = call(provider, "POST", "/v1/charges", CHARGE)[1]
    refund = {"chargeId": charge["chargeId"], "amountCents": 3470}

    # When it is refunded, twice with the same key, then once more with another key
    first = call(provider, "POST", "/v1/refunds", refund, key="refund-order-1")
    again = call(provider, "POST", "/v1/refunds", refund, key="refund-order-1")
    more = call(provider, "POST", "/v1/refunds", refund, key="refund-order-1b")

    # Then one refund of the whole amount; a refund beyond the charge is refused
    assert first == again
    assert first[0] == 201
    assert first[1] == {
        "refundId": first[1]["refundId"],
        "chargeId": charge["chargeId"],
        "status": "succeeded",
        "amountCents": 3470,
    }
    assert more[0] == 400
    assert more[1]["error"]["code"] == "amount_too_large"
    assert provider.refunds() == [first[1]]


def test_refunding_an_unknown_charge_is_404(provider: PaymentProviderSimulator) -> None:
    status, answer = call(
        provider, "POST", "/v1/refunds", {"chargeId": "ch_nope", "amountCents": 1}
    )

    assert status == 404
    assert answer["error"]["code"] == "charge_not_found"
    assert provider.refunds() == []


def test_unknown_routes_and_bodies_that_are_not_json(provider: PaymentProviderSimulator) -> None:
    assert call(provider, "POST", "/v1/payouts", CHARGE)[0] == 404
    assert call(provider, "GET", "/v1/refunds")[0] == 405
    assert call(provider, "POST", "/v1/charges", raw=b"{nope")[0] == 400


def test_concurrent_duplicates_charge_once(provider: PaymentProviderSimulator) -> None:
    # Given twenty clients posting the same charge with the same key at once
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def post() -> None:
        answer = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every one got the same answer and there is one charge
    assert len(answers) == 20
    assert {json.dumps(answer, sort_keys=True) for answer in answers} == {
        json.dumps(answers[0], sort_keys=True)
    }
    assert len(provider.charges()) == 1


# ---------------------------------------------------------------- lost answers


def _send_losing(provider: PaymentProviderSimulator, path: str, body: Any, key: str) -> str:
    """POST that expects no answer: the name of what the client saw instead."""
    try:
        call(provider, "POST", path, body, key=key)
    except (ConnectionError, TimeoutError, OSError) as error:  # OSError: urllib's URLError
        return type(error).__name__
    raise AssertionError("the answer was not lost")


@pytest.mark.parametrize("mode", ["drop", "stall"])
def test_a_charge_is_committed_then_its_answer_is_lost_once(
    provider: PaymentProviderSimulator, mode: str
) -> None:
    # Given a card whose first charge answer gets lost (dropped, or stalled past the timeout)
    provider.lost_answer_mode = mode
    provider.stall_seconds = 6  # the client gives up after 5 s
    body = {**CHARGE, "token": "tok_lost_charge_answer", "reference": f"lost-{mode}"}

    # When it is charged, and the client retries with the same Idempotency-Key
    _send_losing(provider, "/v1/charges", body, key="charge-lost")
    status, retried = call(provider, "POST", "/v1/charges", body, key="charge-lost")

    # Then the first request charged the card, and the retry gets that charge: one charge
    (charged,) = [c for c in provider.charges() if c["reference"] == f"lost-{mode}"]
    assert (status, retried["chargeId"]) == (201, charged["chargeId"])
    assert call(provider, "GET", f"/v1/charges?reference=lost-{mode}")[1]["items"] == [charged]
    assert provider.answers_lost() == 1


def test_every_answer_can_be_lost_and_a_refund_answer_too(
    provider: PaymentProviderSimulator,
) -> None:
    # Given the simulator set to lose every answer to a charge of this card
    provider.answers_lost_per_request = 1000
    body = {**CHARGE, "token": "tok_lost_charge_answer", "reference": "lost-always"}
    _send_losing(provider, "/v1/charges", body, key="charge-always")
    _send_losing(provider, "/v1/charges", body, key="charge-always")
    (charged,) = [c for c in provider.charges() if c["reference"] == "lost-always"]

    # And a card whose refunds are made but their first answer lost
    provider.answers_lost_per_request = 1
    status, paid = call(
        provider, "POST", "/v1/charges", {**CHARGE, "token": "tok_lost_refund_answer"}, key="c"
    )
    refund = {"chargeId": paid["chargeId"], "amountCents": 3470}
    _send_losing(provider, "/v1/refunds", refund, key="refund-1")
    again, refunded = call(provider, "POST", "/v1/refunds", refund, key="refund-1")

    # Then every charge was made once, the refund once, each retry got the first answer
    assert charged["amountCents"] == 3470
    assert status == 201
    assert (again, refunded["chargeId"]) == (201, paid["chargeId"])
    assert [r["chargeId"] for r in provider.refunds()] == [paid["chargeId"]]
    assert provider.answers_lost() == 3


# ---------------------------------------------------------------- localcloud's fault rules


def with_faults(provider: PaymentProviderSimulator, *rules: dict[str, Any]) -> FaultRegistry:
    provider.faults = FaultRegistry(parse_rules(json.dumps(list(rules))))
    return provider.faults


def test_a_lost_response_fault_commits_the_charge_and_drops_its_answer(
    provider: PaymentProviderSimulator,
) -> None:
    # Given the next charge's answer is lost
    faults = with_faults(
        provider,
        {
            "service": "payment-provider",
            "operation": "Charge",
            "action": "lost-response",
            "limit": 1,
        },
    )

    # When a charge is sent, and sent again with the same Idempotency-Key
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")
    status, again = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")

    # Then the card was charged once, and the retry got that charge
    assert status == 201
    assert [c["chargeId"] for c in provider.charges()] == [again["chargeId"]]
    assert provider.answers_lost() == 1
    assert faults.counts() == {"payment-provider.lost-response": 1}


def test_an_error_fault_answers_instead_of_the_provider_and_does_nothing(
    provider: PaymentProviderSimulator,
) -> None:
    # Given a charge, and the provider answering 503 to refunds
    _, charge = call(provider, "POST", "/v1/charges", CHARGE, key="charge-order-1")
    with_faults(
        provider,
        {
            "service": "payment-provider",
            "operation": "Refund",
            "error": {"statusCode": 503, "code": "unavailable"},
        },
    )

    # When the charge is refunded
    status, body = call(
        provider,
        "POST",
        "/v1/refunds",
        {"chargeId": charge["chargeId"], "amountCents": 3470},
        key="r-1",
    )

    # Then the refund was refused as a provider outage, and nothing was refunded
    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert provider.refunds() == []
