"""The pool's Pre Token Generation trigger against moto's Cognito: `admin` stays in the ID
token's groups only for a user whose sign-in asks for TOTP (issue 11, finding 6)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.cognito.tokens import totp_code
from tests.support.service_harness import load_sample

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

    from tests.support.lambda_context import FakeLambdaContext

PASSWORD = "Correct-horse-9!"


@pytest.fixture
def cognito() -> Iterator[CognitoIdentityProviderClient]:
    with mock_aws():
        yield boto3.client("cognito-idp")


@pytest.fixture
def pool(cognito: CognitoIdentityProviderClient) -> str:
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    cognito.set_user_pool_mfa_config(
        UserPoolId=pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="OPTIONAL",
    )
    for group in ("admin", "sales"):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    return pool_id


def make_user(
    cognito: CognitoIdentityProviderClient, pool_id: str, username: str, *, totp: bool
) -> None:
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    if not totp:
        return
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="enrol", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    access_token = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    secret = cognito.associate_software_token(AccessToken=access_token)["SecretCode"]
    cognito.verify_software_token(AccessToken=access_token, UserCode=totp_code(secret))
    cognito.admin_set_user_mfa_preference(
        UserPoolId=pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


def trigger_event(pool_id: str, username: str, groups: list[str], source: str) -> dict[str, Any]:
    event = copy.deepcopy(load_sample("pre_token_generation"))
    event.update(userPoolId=pool_id, userName=username, triggerSource=source)
    event["request"]["groupConfiguration"]["groupsToOverride"] = groups
    return event


def run(event: dict[str, Any], lambda_context: FakeLambdaContext) -> dict[str, Any]:
    import pre_token_generation  # fresh per test: its client is made inside moto

    result: dict[str, Any] = pre_token_generation.handler(event, lambda_context)
    return result


def groups_in_token(result: dict[str, Any], asked: list[str]) -> list[str]:
    """The groups Cognito writes: the override's when the trigger gives one, else the user's."""
    details = result["response"].get("claimsOverrideDetails") or {}
    if "groupOverrideDetails" not in details:
        return asked
    return list((details["groupOverrideDetails"] or {}).get("groupsToOverride") or [])


@pytest.fixture(autouse=True)
def fresh_handler_module() -> Iterator[None]:
    sys.modules.pop("pre_token_generation", None)
    yield
    sys.modules.pop("pre_token_generation", None)


@pytest.mark.parametrize(
    "source",
    [
        "TokenGeneration_Authentication",
        "TokenGeneration_HostedAuth",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
    ],
)
def test_an_admin_without_totp_gets_a_token_without_admin(
    cognito: CognitoIdentityProviderClient,
    pool: str,
    source: str,
    lambda_context: FakeLambdaContext,
) -> None:
    # Given an admin-group member who never enrolled an authenticator
    make_user(cognito, pool, "mallory", totp=False)
    # When a token is generated
    result = run(trigger_event(pool, "mallory", ["sales", "admin"], source), lambda_context)
    # Then it keeps the other groups, in order, and not admin
    assert groups_in_token(result, ["sales", "admin"]) == ["sales"]


def test_an_admin_with_totp_keeps_admin(
    cognito: CognitoIdentityProviderClient, pool: str, lambda_context: FakeLambdaContext
) -> None:
    # Given an admin who signs in with TOTP
    make_user(cognito, pool, "ada", totp=True)
    assert cognito.admin_get_user(UserPoolId=pool, Username="ada")["UserMFASettingList"] == [
        "SOFTWARE_TOKEN_MFA"
    ]
    # When
    event = trigger_event(pool, "ada", ["sales", "admin"], "TokenGeneration_Authentication")
    result = run(event, lambda_context)
    # Then the token is as Cognito would make it
    assert result["response"]["claimsOverrideDetails"] is None
    assert groups_in_token(result, ["sales", "admin"]) == ["sales", "admin"]


def test_totp_enabled_but_not_preferred_is_not_enough(
    cognito: CognitoIdentityProviderClient, pool: str, lambda_context: FakeLambdaContext
) -> None:
    # Given an admin whose authenticator is no longer the MFA their sign-in asks for
    make_user(cognito, pool, "bob", totp=True)
    cognito.admin_set_user_mfa_preference(
        UserPoolId=pool,
        Username="bob",
        SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
    )
    # When / Then
    event = trigger_event(pool, "bob", ["admin"], "TokenGeneration_Authentication")
    assert groups_in_token(run(event, lambda_context), ["admin"]) == []


def test_other_users_groups_are_untouched(
    cognito: CognitoIdentityProviderClient, pool: str, lambda_context: FakeLambdaContext
) -> None:
    # Given a user outside the admin group, without MFA
    make_user(cognito, pool, "carol", totp=False)
    # When
    event = trigger_event(pool, "carol", ["sales"], "TokenGeneration_Authentication")
    result = run(event, lambda_context)
    # Then nothing is overridden
    assert result["response"]["claimsOverrideDetails"] is None
    assert result["request"] == event["request"]


def test_a_source_that_issues_no_token_passes_through(
    cognito: CognitoIdentityProviderClient, pool: str, lambda_context: FakeLambdaContext
) -> None:
    # Given an event of another trigger (the same function wired to it by mistake)
    make_user(cognito, pool, "dave", totp=False)
    event = trigger_event(pool, "dave", ["admin"], "PostAuthentication_Authentication")
    # When / Then: returned unchanged
    assert run(event, lambda_context) == event


def test_an_unknown_user_fails_the_sign_in(pool: str, lambda_context: FakeLambdaContext) -> None:
    # Given a token for a user AdminGetUser does not find: the trigger raises, so Cognito
    # refuses the sign-in (UserLambdaValidationException) rather than grant admin
    event = trigger_event(pool, "ghost", ["admin"], "TokenGeneration_Authentication")
    with pytest.raises(ClientError, match="UserNotFoundException"):
        run(event, lambda_context)
