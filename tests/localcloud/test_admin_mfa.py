"""MFA for the admin group (issue 11, finding 6), end to end on localcloud: the template's
Pre Token Generation trigger (functions/identity) runs in a Lambda worker on every sign-in, so
an `admin` group member who never enrolled an authenticator gets a token without `admin` and
may not change the catalog; after enrolling, the sign-in asks for the TOTP code and the token
is an admin's."""

from __future__ import annotations

import uuid

import jwt
import pytest

from localcloud.cognito.tokens import DEFAULT_PASSWORD, enrol_totp, issue_id_token, sign_in
from tests.support.localcloud_process import RunningLocalCloud
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import Client

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(SHOP_GROUP)]

PRODUCT = {"name": "Desk lamp", "priceCents": 2500, "currency": "EUR", "stock": 3}


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


def groups(token: str) -> list[str]:
    return list(jwt.decode(token, options={"verify_signature": False}).get("cognito:groups", []))


def test_an_admin_without_mfa_gets_no_admin_token_until_enrolled(cloud: RunningLocalCloud) -> None:
    pool = cloud.status()["userPools"][0]
    cognito = cloud.aws.cognito
    username = f"admin-{uuid.uuid4().hex[:8]}"
    sku = f"MFA-{uuid.uuid4().hex[:8].upper()}"
    # Given a member of the admin group who never enrolled an authenticator
    token = issue_id_token(
        cognito, pool["id"], pool["tokenClientId"], username, admin=True, mfa=False
    )
    assert "admin" in [
        g["GroupName"]
        for g in cognito.admin_list_groups_for_user(UserPoolId=pool["id"], Username=username)[
            "Groups"
        ]
    ]
    # Then the token carries no admin, and the catalog refuses the change
    assert "admin" not in groups(token)
    status, body = Client(cloud, token).call("PUT", f"/products/{sku}", PRODUCT)
    assert status == 403, body
    status, body = Client(cloud, token).call("GET", f"/products/{sku}")
    assert status == 404, body  # nothing was written

    # When the user enrols TOTP (as from the app) and signs in again
    signed_in = sign_in(cognito, pool["id"], pool["tokenClientId"], username, DEFAULT_PASSWORD)
    enrol_totp(cognito, pool["id"], username, signed_in["AccessToken"])
    challenge = cognito.admin_initiate_auth(
        UserPoolId=pool["id"],
        ClientId=pool["tokenClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": DEFAULT_PASSWORD},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"  # the password alone is not enough
    admin_token = sign_in(cognito, pool["id"], pool["tokenClientId"], username, DEFAULT_PASSWORD)[
        "IdToken"
    ]
    # Then the token is an admin's and the change is made
    assert "admin" in groups(admin_token)
    status, body = Client(cloud, admin_token).call("PUT", f"/products/{sku}", PRODUCT)
    assert status == 201, body
    status, body = Client(cloud, admin_token).call("GET", f"/products/{sku}")
    assert (status, body["available"]) == (200, 3), body


def test_the_tests_admin_tokens_are_mfa_sign_ins(cloud: RunningLocalCloud) -> None:
    # Given / When: the token every e2e test uses for admin work
    username = f"admin-{uuid.uuid4().hex[:8]}"
    token = cloud.token(username, admin=True)
    # Then its user is enrolled in TOTP and the token keeps admin
    pool = cloud.status()["userPools"][0]
    user = cloud.aws.cognito.admin_get_user(UserPoolId=pool["id"], Username=username)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert "admin" in groups(token)
