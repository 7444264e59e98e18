"""`admin` in a token only after an MFA sign-in (issue 11, finding 6).

Cognito has no per-group MFA: the pool's MFA is OFF, OPTIONAL or ON for everyone. With
OPTIONAL and TOTP, a user whose preferred MFA is an enrolled authenticator app is challenged
for its code at every sign-in (and a refresh only extends such a sign-in). So `admin` stays in
the token's groups exactly when the user's preferred MFA is SOFTWARE_TOKEN_MFA and it is
enabled; otherwise it is removed and the token carries the user's other groups only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

ADMIN_GROUP = "admin"
TOTP = "SOFTWARE_TOKEN_MFA"
# V1 trigger sources that issue tokens (all of them, refreshes included); any other is passed on.
TOKEN_SOURCE_PREFIX = "TokenGeneration_"


class MfaDirectory(Protocol):
    def signs_in_with_totp(self, user_pool_id: str, username: str) -> bool: ...


class CognitoMfaDirectory:
    """Reads a user's MFA settings with AdminGetUser (the only call the trigger's role may make).

    Only a token of an admin-group member asks (`groups_for_token`), so without a `client` the
    first such token makes one, importing boto3 then: the trigger runs for every customer's
    sign-in and refresh, whose init then skips boto3 and the Cognito model (about 90 ms)."""

    def __init__(self, client: CognitoIdentityProviderClient | None = None) -> None:
        self._client = client

    def _cognito(self) -> CognitoIdentityProviderClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("cognito-idp")
        return self._client

    def signs_in_with_totp(self, user_pool_id: str, username: str) -> bool:
        user = self._cognito().admin_get_user(UserPoolId=user_pool_id, Username=username)
        return user.get("PreferredMfaSetting") == TOTP and TOTP in user.get(
            "UserMFASettingList", []
        )


def groups_for_token(
    trigger_source: str,
    user_pool_id: str,
    username: str,
    groups: list[str],
    directory: MfaDirectory,
) -> list[str] | None:
    """The groups the token may carry, or None to leave the token as Cognito would make it."""
    if not trigger_source.startswith(TOKEN_SOURCE_PREFIX) or ADMIN_GROUP not in groups:
        return None
    if directory.signs_in_with_totp(user_pool_id, username):
        return None
    return [group for group in groups if group != ADMIN_GROUP]
