"""The user pool and its public client are hardened (issue 11, finding 6).

Cognito has no per-group MFA requirement: MFA is OFF, OPTIONAL or ON for the whole pool. The
pool offers TOTP (OPTIONAL: a user who enrolled is challenged at every sign-in; customers are
not forced to) and its Pre Token Generation trigger keeps `admin` in a token only for a user who
signs in with TOTP (functions/identity; tests/unit/identity, tests/localcloud/test_admin_mfa.py).
"""

from __future__ import annotations

from tests.support.template import raw_template, resource

UNITS_IN_MINUTES = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 24 * 60}


def public_clients() -> dict[str, dict[str, object]]:
    return {
        logical_id: body["Properties"]
        for logical_id, body in raw_template()["Resources"].items()
        if body["Type"] == "AWS::Cognito::UserPoolClient"
    }


def test_the_pool_offers_totp_mfa() -> None:
    pool = resource("UserPool")["Properties"]

    assert pool["MfaConfiguration"] in ("OPTIONAL", "ON")
    assert "SOFTWARE_TOKEN_MFA" in pool["EnabledMfas"]


def test_the_pool_runs_the_admin_mfa_trigger_and_cognito_may_invoke_it() -> None:
    pool = resource("UserPool")["Properties"]
    assert pool["LambdaConfig"] == {
        "PreTokenGeneration": {"Fn::GetAtt": ["PreTokenGenerationFunction", "Arn"]}
    }
    assert resource("PreTokenGenerationFunction")["Properties"]["Handler"] == (
        "pre_token_generation.handler"
    )
    permission = resource("PreTokenGenerationPermission")["Properties"]
    assert permission["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["FunctionName"] == {"Fn::GetAtt": ["PreTokenGenerationFunction", "Arn"]}
    assert permission["SourceArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}  # this pool only


def test_no_public_client_tells_who_has_an_account_or_takes_a_password_from_a_server() -> None:
    assert public_clients(), "the template declares the shop's client"
    for logical_id, client in public_clients().items():
        assert client["PreventUserExistenceErrors"] == "ENABLED", logical_id
        flows = client["ExplicitAuthFlows"]
        assert isinstance(flows, list)
        assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in flows, logical_id
        assert "ALLOW_USER_PASSWORD_AUTH" not in flows, logical_id  # SRP only: no password sent
        assert client.get("GenerateSecret") is False, logical_id  # a browser keeps no secret


def test_token_validity_is_deliberate() -> None:
    for logical_id, client in public_clients().items():
        units = client["TokenValidityUnits"]
        assert isinstance(units, dict)
        id_minutes = client["IdTokenValidity"] * UNITS_IN_MINUTES[units["IdToken"]]  # type: ignore[operator]
        access_minutes = client["AccessTokenValidity"] * UNITS_IN_MINUTES[units["AccessToken"]]  # type: ignore[operator]
        assert 5 <= id_minutes <= 60, logical_id
        assert 5 <= access_minutes <= 60, logical_id
        assert units["RefreshToken"] == "days", logical_id
        assert 1 <= client["RefreshTokenValidity"] <= 30, logical_id  # type: ignore[operator]
        assert client["EnableTokenRevocation"] is True, logical_id


def test_the_verified_email_stays_readable() -> None:
    # Registration takes the customer's address from the ID token's verified email claim.
    for logical_id, client in public_clients().items():
        read = client["ReadAttributes"]
        assert isinstance(read, list)
        assert {"email", "email_verified"} <= set(read), logical_id
