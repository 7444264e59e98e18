"""POST /v1/customers: register_customer.handler in-process on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shop_shared.sealing import SealedValueUnreadable
from tests.support.sealing import open_on_moto

SUB = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"  # the sample event's caller
PROFILE = {
    "customerId": SUB,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": {
        "line1": "12 Analytical Row",
        "line2": "Flat 3",
        "city": "London",
        "postalCode": "NW1 6XE",
        "country": "GB",
    },
}
BODY = {key: value for key, value in PROFILE.items() if key != "customerId"}


def post_request(sample_event: Any, body: Any = BODY, sub: str | None = SUB) -> dict[str, Any]:
    event: dict[str, Any] = sample_event("register_customer")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    if sub is None:
        del event["requestContext"]["authorizer"]
    else:
        event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


def call(module: Any, event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_registering_stores_the_profile_with_its_event(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    # Given a signed-in user with no profile
    # When they register (the sample event)
    status, body = call(register_customer, sample_event("register_customer"), lambda_context)

    # Then the profile is created under their token's sub
    assert status == 201
    assert body == PROFILE
    items = customers.items()
    customer = items[f"CUSTOMER#{SUB}"]
    assert customer["itemType"] == "CUSTOMER"
    assert {key: customer[key] for key in PROFILE} == PROFILE
    assert customer["createdAt"]
    assert sorted(pk.split("#")[0] for pk in items) == ["CUSTOMER", "EVENT"]
    # and a CustomerRegistered event carries the email and the address sealed with the
    # customer-data key for this customer (notifications and shipping open them), never clear
    [(detail_type, data)] = customers.outbox()
    assert detail_type == "CustomerRegistered"
    assert set(data) == {"customerId", "name", "emailCiphertext", "addressCiphertext"}
    assert (data["customerId"], data["name"]) == (SUB, PROFILE["name"])
    assert PROFILE["email"] not in json.dumps(data)
    email = open_on_moto(data["emailCiphertext"], {"customerId": SUB, "field": "email"})
    address = open_on_moto(data["addressCiphertext"], {"customerId": SUB, "field": "address"})
    assert (email, json.loads(address)) == (PROFILE["email"], PROFILE["address"])
    # and sealed for this customer only
    with pytest.raises(SealedValueUnreadable):
        open_on_moto(data["emailCiphertext"], {"customerId": "other-sub", "field": "email"})


def test_an_address_without_line2_answers_null_and_stores_none(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    address = {k: v for k, v in BODY["address"].items() if k != "line2"}

    status, body = call(
        register_customer, post_request(sample_event, {**BODY, "address": address}), lambda_context
    )

    assert status == 201
    assert body["address"]["line2"] is None
    assert "line2" not in customers.items()[f"CUSTOMER#{SUB}"]["address"]


def test_registering_twice_is_a_conflict_that_changes_nothing(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    # Given the user registered
    call(register_customer, post_request(sample_event), lambda_context)
    before = customers.items()

    # When they register again, with another name
    status, body = call(
        register_customer, post_request(sample_event, {**BODY, "name": "Ada King"}), lambda_context
    )

    # Then it is a 409 CUSTOMER_EXISTS, and the first profile and its one event stay
    assert status == 409
    assert body["code"] == "CUSTOMER_EXISTS"
    assert body["message"]
    assert customers.items() == before
    assert len(customers.outbox()) == 1


def test_two_users_get_two_profiles(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    call(register_customer, post_request(sample_event), lambda_context)

    status, body = call(
        register_customer, post_request(sample_event, sub="other-sub"), lambda_context
    )

    assert status == 201
    assert body["customerId"] == "other-sub"
    assert {f"CUSTOMER#{SUB}", "CUSTOMER#other-sub"} <= set(customers.items())
    assert len(customers.outbox()) == 2


@pytest.mark.parametrize(
    "case",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "ada@localhost"}, "email"),
        ({"email": "ada lovelace@example.com"}, "email"),
        ({"address": {**BODY["address"], "country": "XX"}}, "country"),
        ({"address": {**BODY["address"], "country": "gb"}}, "country"),
        ({"address": {**BODY["address"], "city": ""}}, "city"),
        ({"address": None}, "address"),
        ({"customerId": "someone-else"}, "customerId"),
    ],
)
def test_an_invalid_profile_is_a_validation_error_naming_the_field(
    register_customer: Any,
    sample_event: Any,
    lambda_context: Any,
    customers: Any,
    case: tuple[dict[str, Any], str],
) -> None:
    # Given a body with one bad field
    change, field = case
    # When it is posted
    status, body = call(
        register_customer, post_request(sample_event, {**BODY, **change}), lambda_context
    )

    # Then it is a 400 naming the field, and nothing is written
    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert field in body["message"]
    assert customers.items() == {}


def test_a_missing_body_is_a_validation_error(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    event = post_request(sample_event)
    event["body"] = None

    status, body = call(register_customer, event, lambda_context)

    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert customers.items() == {}


def test_a_request_without_a_caller_is_forbidden(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    status, body = call(register_customer, post_request(sample_event, sub=None), lambda_context)

    assert status == 403
    assert body["code"] == "FORBIDDEN"
    assert customers.items() == {}


# ---------------------------------------------------------------- issue 11, finding 1


def with_claims(event: dict[str, Any], **claims: str | None) -> dict[str, Any]:
    held = event["requestContext"]["authorizer"]["claims"]
    for name, value in claims.items():
        if value is None:
            held.pop(name, None)
        else:
            held[name] = value
    return event


def test_the_profile_gets_the_tokens_verified_email_when_the_body_has_none(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    # Given a caller whose verified email is ada@example.com, and a body without an email
    body = {key: value for key, value in BODY.items() if key != "email"}

    # When they register
    status, answer = call(register_customer, post_request(sample_event, body), lambda_context)

    # Then the profile, the stored item and the event carry the token's email
    assert status == 201
    assert answer == PROFILE
    assert customers.items()[f"CUSTOMER#{SUB}"]["email"] == "ada@example.com"
    [(_, data)] = customers.outbox()
    email_context = {"customerId": SUB, "field": "email"}
    assert open_on_moto(data["emailCiphertext"], email_context) == "ada@example.com"


def test_the_verified_email_is_compared_without_regard_to_case(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    event = with_claims(post_request(sample_event, {**BODY, "email": "Ada@Example.COM"}))

    status, answer = call(register_customer, event, lambda_context)

    assert status == 201
    assert answer["email"] == "ada@example.com"  # the token's, not the body's spelling


def test_someone_elses_email_in_the_body_is_refused_and_nothing_is_written(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any
) -> None:
    # Given a caller whose verified email is ada@example.com
    # When they register the victim's address
    event = post_request(sample_event, {**BODY, "email": "victim@example.org"})
    status, answer = call(register_customer, event, lambda_context)

    # Then it is refused, and no profile or event (hence no email) exists
    assert status == 422
    assert answer["code"] == "EMAIL_MISMATCH"
    assert customers.items() == {}


@pytest.mark.parametrize(
    "claims",
    [
        {"email_verified": "false"},
        {"email_verified": None},
        {"email": None},
        {"email": None, "email_verified": None},
    ],
    ids=["unverified", "no email_verified", "no email", "neither"],
)
def test_a_caller_without_a_verified_email_cannot_register(
    register_customer: Any,
    sample_event: Any,
    lambda_context: Any,
    customers: Any,
    claims: dict[str, str | None],
) -> None:
    event = with_claims(post_request(sample_event), **claims)

    status, answer = call(register_customer, event, lambda_context)

    assert status == 403
    assert answer["code"] == "EMAIL_NOT_VERIFIED"
    assert customers.items() == {}


@pytest.mark.parametrize(
    "name",
    [
        "Reset your password at http://evil.example",
        "http://evil.example",
        "evil.example",
        "www.evil.example",
        "Ada <b>Lovelace</b>",
        "<script>alert(1)</script>",
        "Ada & Co",
        "Ada @ evil",
        "Call 0800 123 456",
        "Ada/Lovelace",
        "Ada: click here",
        "Ada\u202eecalevol",  # right-to-left override
        "Ada\u200bLovelace",  # zero-width space
        "  ",
    ],
)
def test_a_name_with_a_link_markup_or_anything_but_a_name_is_refused(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any, name: str
) -> None:
    status, answer = call(
        register_customer, post_request(sample_event, {**BODY, "name": name}), lambda_context
    )

    assert status == 400
    assert answer["code"] == "VALIDATION_ERROR"
    assert "name" in answer["message"]
    assert customers.items() == {}


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",
        "Zoë Ñandú",
        "Jean-Luc O'Brien",
        "J. R. R. Tolkien",
        "J.R.R. Tolkien",
        "Martin Luther King, Jr.",
        "李小龙",
        "Ngũgĩ wa Thiong'o",
        "Renée d\u2019Alembert",
    ],
)
def test_names_of_people_are_accepted(
    register_customer: Any, sample_event: Any, lambda_context: Any, customers: Any, name: str
) -> None:
    status, answer = call(
        register_customer, post_request(sample_event, {**BODY, "name": name}), lambda_context
    )

    assert status == 201, answer
    assert answer["name"] == name
