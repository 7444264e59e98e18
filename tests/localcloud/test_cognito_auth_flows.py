"""localcloud's Cognito refuses what Cognito refuses (issue 11, finding 6): an auth flow the app
client does not allow, and, with PreventUserExistenceErrors, it does not tell an unknown user
from a wrong password. The template's public client is held to its own settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.cognito import auth_flows
from localcloud.cognito.tokens import DEFAULT_PASSWORD, create_token_client, issue_id_token
from tests.support.template import resource

REGION = "us-east-1"


@pytest.fixture
def cognito() -> Iterator[Any]:
    auth_flows.install()
    try:
        with mock_aws():
            yield boto3.client("cognito-idp", region_name=REGION)
    finally:
        auth_flows.uninstall()


def public_client(cognito: Any, pool_id: str) -> str:
    """template.yaml's UserPoolClient, as localcloud's provisioner creates it."""
    properties = resource("UserPoolClient")["Properties"]
    settings = {
        key: properties[key]
        for key in ("ExplicitAuthFlows", "ReadAttributes", "PreventUserExistenceErrors")
    }
    client_id: str = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="shop-web", GenerateSecret=False, **settings
    )["UserPoolClient"]["ClientId"]
    return client_id


def error_of(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_the_public_client_refuses_a_server_side_password_sign_in(cognito: Any) -> None:
    # Given the template's pool and public client, and a user with a password
    pool_id = cognito.create_user_pool(PoolName="shop-users")["UserPool"]["Id"]
    client_id = public_client(cognito, pool_id)
    token_client = create_token_client(cognito, pool_id)
    issue_id_token(cognito, pool_id, token_client, "alice", admin=False)

    # When the user signs in with ADMIN_USER_PASSWORD_AUTH or USER_PASSWORD_AUTH through it
    admin_flow = error_of(
        lambda: cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": DEFAULT_PASSWORD},
        )
    )
    user_flow = error_of(
        lambda: cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": DEFAULT_PASSWORD},
        )
    )

    # Then Cognito's answer: the flow is not enabled for this client
    expected = ("InvalidParameterException", "Auth flow not enabled for this client")
    assert admin_flow == expected
    assert user_flow == expected


def test_an_unknown_user_is_answered_like_a_wrong_password(cognito: Any) -> None:
    # Given localcloud's token client (PreventUserExistenceErrors ENABLED, as the template's)
    pool_id = cognito.create_user_pool(PoolName="shop-users")["UserPool"]["Id"]
    token_client = create_token_client(cognito, pool_id)
    issue_id_token(cognito, pool_id, token_client, "alice", admin=False)

    def sign_in(username: str, password: str) -> tuple[str, str]:
        return error_of(
            lambda: cognito.admin_initiate_auth(
                UserPoolId=pool_id,
                ClientId=token_client,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        )

    # When someone signs in as a user who does not exist, and as one with a wrong password
    # Then both answers are NotAuthorizedException: no account is revealed
    assert sign_in("nobody", DEFAULT_PASSWORD)[0] == "NotAuthorizedException"
    assert sign_in("alice", "Wrong-passw0rd!")[0] == "NotAuthorizedException"
