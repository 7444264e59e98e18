"""A user pool's Pre Token Generation trigger (V1), run as Cognito runs it.

moto's Cognito never invokes the pool's Lambda triggers. `install(invoke)` patches moto's
user pools (idempotent) so that every ID token they sign for a pool whose
`LambdaConfig.PreTokenGeneration` names a function first goes through that function, with
Cognito's V1 event (`version` "1", `triggerSource` `TokenGeneration_Authentication` on a
sign-in, `TokenGeneration_RefreshTokens` on a refresh; the user's attributes and groups), and
the response is applied to the ID token's claims as Cognito applies it:

- `groupOverrideDetails` replaces the groups: `groupsToOverride` becomes `cognito:groups`
  (no claim when empty), `iamRolesToOverride` `cognito:roles`, `preferredRole`
  `cognito:preferred_role`;
- `claimsToAddOrOverride` sets claims, `claimsToSuppress` removes them; the claims that carry
  the token's identity and validity (`sub`, `iss`, `aud`, `exp`, `token_use`, ...) are left
  as they are, and `cognito:groups` changes only through `groupOverrideDetails`.

A trigger that fails (an error, a timeout, a response that is not JSON) fails the sign-in with
UserLambdaValidationException, "PreTokenGeneration failed with error <message>.", and no
token is issued. The access token is not changed (V1 customises the ID token only).
The sign-in flows go through moto's `_log_user_in`; `localcloud token` and the tests'
`cloud.token(...)` are such sign-ins (cognito.tokens.issue_id_token).
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable
from typing import Any

from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool
from moto.core.exceptions import JsonRESTError

# (function ARN, payload) -> (response payload, function error or None)
Invoker = Callable[[str, bytes], tuple[bytes, str | None]]

SIGN_IN = "TokenGeneration_Authentication"
REFRESH = "TokenGeneration_RefreshTokens"
GROUPS = "cognito:groups"
# Claims a Pre Token Generation trigger cannot change (Cognito keeps its own values).
PROTECTED_CLAIMS = frozenset(
    {
        "acr", "amr", "at_hash", "aud", "auth_time", "azp", "cognito:username", "exp",
        "iat", "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "sub", "token_use",
        GROUPS, "cognito:roles", "cognito:preferred_role",
    }
)  # fmt: skip
_MARK = "_localcloud_pre_token_generation"
_source: contextvars.ContextVar[str] = contextvars.ContextVar("token_source", default=REFRESH)
_invoker: list[Invoker] = []


class UserLambdaValidationException(JsonRESTError):
    """Cognito's answer when a user pool trigger fails."""

    def __init__(self, message: str) -> None:
        super().__init__("UserLambdaValidationException", message)


def v1_event(
    pool: CognitoIdpUserPool, client_id: str, username: str, claims: dict[str, Any]
) -> dict[str, Any]:
    """The event Cognito sends a V1 Pre Token Generation trigger for this ID token."""
    user = pool._get_user(username)
    attributes = {a["Name"]: a["Value"] for a in user.attributes}
    attributes.setdefault("sub", user.id)
    attributes["cognito:user_status"] = str(user.status)
    return {
        "version": "1",
        "triggerSource": _source.get(),
        "region": pool.region,
        "userPoolId": pool.id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "localcloud", "clientId": client_id},
        "request": {
            "userAttributes": attributes,
            "groupConfiguration": {
                "groupsToOverride": list(claims.get(GROUPS, [])),
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
            "clientMetadata": {},
        },
        "response": {"claimsOverrideDetails": None},
    }


def apply_response(claims: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims after the trigger's `response.claimsOverrideDetails`."""
    details = (response or {}).get("claimsOverrideDetails") or {}
    result = dict(claims)
    for name, value in (details.get("claimsToAddOrOverride") or {}).items():
        if name not in PROTECTED_CLAIMS:
            result[name] = value
    for name in details.get("claimsToSuppress") or []:
        if name not in PROTECTED_CLAIMS:
            result.pop(name, None)
    if "groupOverrideDetails" in details:
        groups = details["groupOverrideDetails"] or {}
        for claim, key in (
            (GROUPS, "groupsToOverride"),
            ("cognito:roles", "iamRolesToOverride"),
            ("cognito:preferred_role", "preferredRole"),
        ):
            result.pop(claim, None)
            if groups.get(key):
                result[claim] = groups[key]
    return result


def _run_trigger(
    pool: CognitoIdpUserPool, client_id: str, username: str, claims: dict[str, Any]
) -> dict[str, Any]:
    function = (pool.extended_config.get("LambdaConfig") or {}).get("PreTokenGeneration")
    if not function or not _invoker:
        return claims
    event = v1_event(pool, client_id, username, claims)
    try:
        payload, error = _invoker[-1](str(function), json.dumps(event).encode())
        answer = json.loads(payload or b"null")
    except (OSError, RuntimeError, ValueError) as failure:
        raise UserLambdaValidationException(
            f"PreTokenGeneration failed with error {failure}."
        ) from failure
    if error or not isinstance(answer, dict):
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        raise UserLambdaValidationException(
            f"PreTokenGeneration failed with error {message or 'invalid response'}."
        )
    return apply_response(claims, answer.get("response") or {})


def _create_jwt(method: Callable[..., tuple[str, int]]) -> Callable[..., tuple[str, int]]:
    @functools.wraps(method)
    def create_jwt(  # noqa: PLR0917 (moto's signature)
        pool: CognitoIdpUserPool,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 60 * 60,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        if token_use == "id":
            extra_data = _run_trigger(pool, client_id, username, dict(extra_data or {}))
        return method(pool, client_id, username, token_use, expires_in, extra_data)

    setattr(create_jwt, _MARK, True)
    return create_jwt


def _log_user_in(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def log_user_in(backend: CognitoIdpBackend, *args: Any, **kwargs: Any) -> Any:
        token = _source.set(SIGN_IN)
        try:
            return method(backend, *args, **kwargs)
        finally:
            _source.reset(token)

    setattr(log_user_in, _MARK, True)
    return log_user_in


def install(invoke: Invoker) -> None:
    """Patch moto's user pools (once) and run triggers through `invoke` (the latest given)."""
    _invoker.append(invoke)
    if getattr(CognitoIdpUserPool.create_jwt, _MARK, False):
        return
    CognitoIdpUserPool.create_jwt = _create_jwt(CognitoIdpUserPool.create_jwt)  # type: ignore[method-assign]
    CognitoIdpBackend._log_user_in = _log_user_in(CognitoIdpBackend._log_user_in)  # type: ignore[method-assign]


def uninstall(invoke: Invoker) -> None:
    """Stop running triggers through `invoke` (moto stays patched: without an invoker the
    patched calls are moto's own)."""
    if invoke in _invoker:
        _invoker.remove(invoke)
