"""localcloud runs a user pool's Pre Token Generation trigger (V1) as Cognito does
(localcloud.cognito.triggers), on moto's in-process Cognito with an invoker that stands in for
localcloud's Lambda runtime. The whole path through a real worker is test_admin_mfa.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import jwt
import pytest
from moto import mock_aws

from localcloud.cognito import triggers
from localcloud.cognito.tokens import issue_id_token

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

TRIGGER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:PreTokenGenerationFunction"
Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


class Trigger:
    """The function a pool's LambdaConfig names: records each event, answers with `handle`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.handle: Handler = lambda event: event
        self.error: str | None = None

    def __call__(self, function: str, payload: bytes) -> tuple[bytes, str | None]:
        assert function == TRIGGER_ARN
        event = json.loads(payload)
        self.events.append(event)
        if self.error:
            body = {"errorType": "RuntimeError", "errorMessage": self.error}
            return json.dumps(body).encode(), "Unhandled"
        return json.dumps(self.handle(event)).encode(), None


@pytest.fixture
def trigger() -> Iterator[Trigger]:
    invoker = Trigger()
    triggers.install(invoker)
    try:
        yield invoker
    finally:
        triggers.uninstall(invoker)


@pytest.fixture
def cognito() -> Iterator[CognitoIdentityProviderClient]:
    with mock_aws():
        yield boto3.client("cognito-idp", region_name="us-east-1")


def make_pool(cognito: CognitoIdentityProviderClient, *, with_trigger: bool) -> tuple[str, str]:
    config = {"LambdaConfig": {"PreTokenGeneration": TRIGGER_ARN}} if with_trigger else {}
    pool_id = cognito.create_user_pool(PoolName="users", **config)["UserPool"]["Id"]  # type: ignore[arg-type]
    for group in ("admin", "sales"):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="tokens",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_the_trigger_gets_cognitos_v1_event_and_its_groups_override_is_applied(
    cognito: CognitoIdentityProviderClient, trigger: Trigger
) -> None:
    # Given a pool whose trigger drops "admin"
    pool_id, client_id = make_pool(cognito, with_trigger=True)
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username="ann",
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="ann", GroupName="sales")

    def drop_admin(event: dict[str, Any]) -> dict[str, Any]:
        groups = event["request"]["groupConfiguration"]["groupsToOverride"]
        event["response"]["claimsOverrideDetails"] = {
            "groupOverrideDetails": {"groupsToOverride": [g for g in groups if g != "admin"]}
        }
        return event

    trigger.handle = drop_admin
    # When an admin token is asked for (no MFA: the user never enrolled)
    token = issue_id_token(cognito, pool_id, client_id, "ann", admin=True, mfa=False)
    # Then the trigger saw the sign-in with the user's groups, and the token has its groups
    (event,) = trigger.events
    assert event["version"] == "1"
    assert event["triggerSource"] == "TokenGeneration_Authentication"
    assert (event["userPoolId"], event["userName"]) == (pool_id, "ann")
    assert event["callerContext"]["clientId"] == client_id
    assert sorted(event["request"]["groupConfiguration"]["groupsToOverride"]) == [
        "admin",
        "sales",
    ]
    assert event["request"]["userAttributes"]["email"] == "ann@example.com"
    assert claims(token)["cognito:groups"] == ["sales"]


def test_claims_are_added_suppressed_and_the_identity_claims_kept(
    cognito: CognitoIdentityProviderClient, trigger: Trigger
) -> None:
    # Given a trigger that adds a claim, suppresses email, empties the groups and tries to
    # change sub and token_use
    pool_id, client_id = make_pool(cognito, with_trigger=True)
    trigger.handle = lambda event: {
        **event,
        "response": {
            "claimsOverrideDetails": {
                "claimsToAddOrOverride": {"tier": "gold", "sub": "someone-else", "token_use": "x"},
                "claimsToSuppress": ["email", "aud"],
                "groupOverrideDetails": {"groupsToOverride": []},
            }
        },
    }
    # When
    token = claims(issue_id_token(cognito, pool_id, client_id, "bea", admin=True, mfa=False))
    # Then
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="bea")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    assert token["tier"] == "gold"
    assert "email" not in token
    assert "cognito:groups" not in token
    assert (token["sub"], token["token_use"], token["aud"]) == (sub, "id", client_id)


def test_a_refresh_runs_the_trigger_as_a_refresh(
    cognito: CognitoIdentityProviderClient, trigger: Trigger
) -> None:
    # Given a user signed in
    pool_id, client_id = make_pool(cognito, with_trigger=True)
    issue_id_token(cognito, pool_id, client_id, "cid", admin=False)
    refresh = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "cid", "PASSWORD": "Localcloud-passw0rd!"},
    )["AuthenticationResult"]["RefreshToken"]
    # When the tokens are refreshed
    cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh},
    )
    # Then
    assert [e["triggerSource"] for e in trigger.events] == [
        "TokenGeneration_Authentication",
        "TokenGeneration_Authentication",
        "TokenGeneration_RefreshTokens",
    ]


def test_a_failing_trigger_refuses_the_sign_in(
    cognito: CognitoIdentityProviderClient, trigger: Trigger
) -> None:
    # Given a trigger that raises
    pool_id, client_id = make_pool(cognito, with_trigger=True)
    trigger.error = "directory unavailable"
    # When / Then: Cognito's answer, and no token
    with pytest.raises(cognito.exceptions.UserLambdaValidationException) as refused:
        issue_id_token(cognito, pool_id, client_id, "dan", admin=False)
    assert refused.value.response["Error"]["Message"] == (
        "PreTokenGeneration failed with error directory unavailable."
    )


def test_a_pool_without_the_trigger_is_moto_as_it_is(
    cognito: CognitoIdentityProviderClient, trigger: Trigger
) -> None:
    # Given a pool whose LambdaConfig names no trigger
    pool_id, client_id = make_pool(cognito, with_trigger=False)
    # When
    token = claims(issue_id_token(cognito, pool_id, client_id, "eve", admin=True, mfa=False))
    # Then nothing ran and the groups are the user's
    assert trigger.events == []
    assert token["cognito:groups"] == ["admin"]


def test_an_admin_token_is_issued_after_a_totp_challenge(
    cognito: CognitoIdentityProviderClient,
) -> None:
    # Given an admin made by issue_id_token (enrolled in TOTP once)
    pool_id, client_id = make_pool(cognito, with_trigger=False)
    issue_id_token(cognito, pool_id, client_id, "fay", admin=True)
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="fay")
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    # When the user signs in with the password alone
    answer = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "fay", "PASSWORD": "Localcloud-passw0rd!"},
    )
    # Then Cognito asks for the code instead of issuing tokens
    assert answer["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" not in answer
    # And a second admin token does not enrol again
    token = claims(issue_id_token(cognito, pool_id, client_id, "fay", admin=True))
    assert token["cognito:groups"] == ["admin"]
