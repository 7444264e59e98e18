"""Cognito user pool ID tokens, checked the way API Gateway's Cognito authorizer checks them.

The tokens come from a user pool in moto (server mode). moto signs every pool's tokens
with one RSA key it ships, and serves the public half at
``<endpoint>/<user pool id>/.well-known/jwks.json``; its ``iss`` claim is the real AWS
issuer, ``https://cognito-idp.<region>.amazonaws.com/<user pool id>``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any, NoReturn

import jwt
from moto.cognitoidp.models import COGNITO_TOTP_MFA_SECRET
from moto.cognitoidp.utils import cognito_totp

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

logger = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = "Unauthorized"
EXPIRED_MESSAGE = "The incoming token has expired"
DEFAULT_PASSWORD = "Localcloud-passw0rd!"  # meets the template's 12-character policy
ADMIN_GROUP = "admin"
TOTP = "SOFTWARE_TOKEN_MFA"
# moto gives every user the same authenticator secret (AssociateSoftwareToken's SecretCode);
# Cognito never shows a secret again after it is associated, so a later sign-in needs it here.
TOTP_SECRET = COGNITO_TOTP_MFA_SECRET
_BEARER_PREFIX = "bearer "
LATEST_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z


class Unauthorized(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""

    def __init__(self, message: str = UNAUTHORIZED_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


class AuthorizerUnavailable(Exception):
    """The user pool's signing keys could not be fetched (a server fault, not the caller's)."""


def issuer_for(region: str, user_pool_id: str) -> str:
    """The `iss` of the pool's tokens (AWS's format, which moto also uses)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url_for(endpoint_url: str, user_pool_id: str) -> str:
    """Where a moto server serves the pool's public keys."""
    return f"{endpoint_url.rstrip('/')}/{user_pool_id}/.well-known/jwks.json"


def strip_bearer(header_value: str) -> str:
    """Accept the raw token or `Bearer <token>`."""
    value = header_value.strip()
    if value.lower().startswith(_BEARER_PREFIX):
        return value[len(_BEARER_PREFIX) :].strip()
    return value


class CognitoVerifier:
    """Verifies a user pool's ID tokens: RS256 signature, `exp`, `iss`, `aud`, `token_use`."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        user_pool_id: str,
        client_ids: Collection[str],
        *,
        clock: Callable[[], float] = time.time,
        jwks_timeout_seconds: float = 5.0,
    ) -> None:
        self.user_pool_id = user_pool_id
        self.issuer = issuer_for(region, user_pool_id)
        self.client_ids = frozenset(client_ids)
        self._clock = clock
        self._jwks = jwt.PyJWKClient(
            jwks_url_for(endpoint_url, user_pool_id),
            cache_jwk_set=True,
            lifespan=300,
            timeout=jwks_timeout_seconds,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises Unauthorized (or AuthorizerUnavailable)."""
        raw = strip_bearer(token)
        if not raw:
            raise Unauthorized()
        signing_key = self._signing_key(raw)
        claims = self._decode(raw, signing_key)
        self._check_times(claims)
        if claims.get("token_use") != "id":
            self._reject("not an ID token")
        return claims

    def _signing_key(self, raw: str) -> jwt.PyJWK:
        try:
            return self._jwks.get_signing_key_from_jwt(raw)
        except jwt.PyJWKClientConnectionError as error:
            raise AuthorizerUnavailable(str(error)) from error
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as error:
            self._reject(f"no signing key: {type(error).__name__}")

    def _decode(self, raw: str, signing_key: jwt.PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                raw,
                signing_key,
                algorithms=["RS256"],
                audience=sorted(self.client_ids),
                issuer=self.issuer,
                # Times are checked against self._clock, after the signature.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iss", "aud", "sub", "token_use"],
                },
            )
        except jwt.InvalidTokenError as error:
            self._reject(type(error).__name__)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        expires_at = self._numeric_date(claims, "exp")
        for optional in ("iat", "nbf", "auth_time"):
            if optional in claims:
                self._numeric_date(claims, optional)
        if now >= expires_at:
            raise Unauthorized(EXPIRED_MESSAGE)
        if now < claims.get("nbf", 0):
            self._reject("not valid yet")

    def _numeric_date(self, claims: dict[str, Any], name: str) -> float:
        """RFC 7519's NumericDate: a JSON number of seconds, finite, in a range a date has. Not a
        string ("4102444799"), a boolean, NaN or Infinity (`1e400` parses as Infinity)."""
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._reject(f"{name} is not a number")
        if not (isinstance(value, int) or math.isfinite(value)):
            self._reject(f"{name} is not a finite number")
        if not 0 <= value <= LATEST_NUMERIC_DATE:
            self._reject(f"{name} is out of range")
        return float(value)

    def _reject(self, reason: str) -> NoReturn:
        logger.info("token rejected", extra={"user_pool_id": self.user_pool_id, "reason": reason})
        raise Unauthorized()


TOKEN_CLIENT_NAME = "localcloud-token"


def create_token_client(
    cognito_idp_client: CognitoIdentityProviderClient, user_pool_id: str
) -> str:
    """The pool's local-only app client for `localcloud token` (ADMIN_USER_PASSWORD_AUTH), made
    once: the template's public client does not allow that flow, and must not for our sake.
    Like any app client of the pool (an operator's `create-user-pool-client` on AWS), its
    tokens pass the pool's authorizer."""
    clients = cognito_idp_client.list_user_pool_clients(UserPoolId=user_pool_id, MaxResults=60)
    for client in clients["UserPoolClients"]:
        if client.get("ClientName") == TOKEN_CLIENT_NAME:
            return client["ClientId"]
    created = cognito_idp_client.create_user_pool_client(
        UserPoolId=user_pool_id,
        ClientName=TOKEN_CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", "name"],
        PreventUserExistenceErrors="ENABLED",
    )
    return created["UserPoolClient"]["ClientId"]


def issue_id_token(
    cognito_idp_client: CognitoIdentityProviderClient,
    user_pool_id: str,
    client_id: str,
    username: str,
    *,
    admin: bool,
    password: str = DEFAULT_PASSWORD,
    mfa: bool = True,
) -> str:
    """An ID token for `username`, creating the user (and its password) on first use.

    With admin=True the user is added to the `admin` group and, as an admin must be (the pool's
    Pre Token Generation trigger keeps `admin` only for them), enrolled in TOTP MFA once;
    admin=False never removes either. An enrolled user's sign-in answers the TOTP challenge.
    `mfa=False` makes an admin-group member who never enrolled (its token has no `admin`).
    """
    _ensure_user(cognito_idp_client, user_pool_id, username)
    cognito_idp_client.admin_set_user_password(
        UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True
    )
    if admin:
        cognito_idp_client.admin_add_user_to_group(
            UserPoolId=user_pool_id, Username=username, GroupName=ADMIN_GROUP
        )
    signed_in = sign_in(cognito_idp_client, user_pool_id, client_id, username, password)
    if admin and mfa and not has_totp(cognito_idp_client, user_pool_id, username):
        enrol_totp(cognito_idp_client, user_pool_id, username, signed_in["AccessToken"])
        signed_in = sign_in(cognito_idp_client, user_pool_id, client_id, username, password)
    return signed_in["IdToken"]


def totp_code(secret: str = TOTP_SECRET) -> str:
    """The authenticator app's current code for `secret` (RFC 6238, as Cognito checks it)."""
    return cognito_totp(secret).generate(int(time.time())).decode()


def has_totp(
    cognito_idp_client: CognitoIdentityProviderClient, user_pool_id: str, username: str
) -> bool:
    user = cognito_idp_client.admin_get_user(UserPoolId=user_pool_id, Username=username)
    return TOTP in user.get("UserMFASettingList", [])


def enrol_totp(
    cognito_idp_client: CognitoIdentityProviderClient,
    user_pool_id: str,
    username: str,
    access_token: str,
) -> None:
    """What the user does in the app: associate an authenticator, prove it with a code, make
    it the user's MFA (AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference)."""
    secret = cognito_idp_client.associate_software_token(AccessToken=access_token)["SecretCode"]
    cognito_idp_client.verify_software_token(
        AccessToken=access_token, UserCode=totp_code(secret), FriendlyDeviceName="localcloud"
    )
    cognito_idp_client.admin_set_user_mfa_preference(
        UserPoolId=user_pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


def sign_in(
    cognito_idp_client: CognitoIdentityProviderClient,
    user_pool_id: str,
    client_id: str,
    username: str,
    password: str,
) -> dict[str, Any]:
    """ADMIN_USER_PASSWORD_AUTH, answering Cognito's TOTP challenge when there is one."""
    response: dict[str, Any] = dict(
        cognito_idp_client.admin_initiate_auth(
            UserPoolId=user_pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    )
    if response.get("ChallengeName") == TOTP:
        response = dict(
            cognito_idp_client.admin_respond_to_auth_challenge(
                UserPoolId=user_pool_id,
                ClientId=client_id,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=response["Session"],
                ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp_code()},
            )
        )
    return dict(response["AuthenticationResult"])


def _ensure_user(
    cognito_idp_client: CognitoIdentityProviderClient, user_pool_id: str, username: str
) -> None:
    try:
        cognito_idp_client.admin_create_user(
            UserPoolId=user_pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": f"{username}@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
    except cognito_idp_client.exceptions.UsernameExistsException:
        logger.debug("user exists", extra={"user_pool_id": user_pool_id})
