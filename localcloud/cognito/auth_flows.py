"""An app client's sign-in settings, enforced as Cognito enforces them.

moto's `admin_initiate_auth` and `initiate_auth` accept every auth flow on every client and
tell an unknown user apart (UserNotFoundException) whatever the client says. Cognito:

- refuses a flow the client's ExplicitAuthFlows does not allow, with InvalidParameterException
  "Auth flow not enabled for this client" (a client without ExplicitAuthFlows allows SRP,
  custom auth and refresh: AWS's default);
- with `PreventUserExistenceErrors: ENABLED`, answers an unknown user like a wrong password
  (NotAuthorizedException "Incorrect username or password.").

`install()` wraps both calls (idempotent), so the template's public client refuses
ADMIN_USER_PASSWORD_AUTH here as on AWS, and `localcloud token` must use its own client
(cognito.tokens.create_token_client).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.cognitoidp.exceptions import (
    InvalidParameterException,
    NotAuthorizedError,
    UserNotFoundError,
)
from moto.cognitoidp.models import CognitoIdpBackend

_MARK = "_localcloud_auth_flows"
# The AuthFlow of a request -> the ExplicitAuthFlows entries that allow it (new and legacy).
_ALLOWED_BY = {
    "ADMIN_USER_PASSWORD_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "ADMIN_NO_SRP_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "USER_PASSWORD_AUTH": {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"},
    "USER_SRP_AUTH": {"ALLOW_USER_SRP_AUTH"},
    "CUSTOM_AUTH": {"ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"},
    "REFRESH_TOKEN_AUTH": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "REFRESH_TOKEN": {"ALLOW_REFRESH_TOKEN_AUTH"},
}
_DEFAULT_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def _client_config(backend: CognitoIdpBackend, client_id: str) -> dict[str, Any] | None:
    for pool in backend.user_pools.values():
        client = pool.clients.get(client_id)
        if client is not None:
            config: dict[str, Any] = client.extended_config
            return config
    return None  # moto answers ResourceNotFoundException itself


def _enforced(method: Callable[..., Any], client_arg: int) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(backend: CognitoIdpBackend, *args: Any, **kwargs: Any) -> Any:
        client_id = kwargs.get("client_id", args[client_arg] if len(args) > client_arg else "")
        auth_flow = kwargs.get("auth_flow", args[client_arg + 1] if args else "")
        config = _client_config(backend, str(client_id))
        if config is None:
            return method(backend, *args, **kwargs)
        flows = set(config.get("ExplicitAuthFlows") or _DEFAULT_FLOWS)
        if not flows & _ALLOWED_BY.get(str(auth_flow), set()):
            raise InvalidParameterException("Auth flow not enabled for this client")
        try:
            return method(backend, *args, **kwargs)
        except UserNotFoundError:
            if config.get("PreventUserExistenceErrors") == "ENABLED":
                raise NotAuthorizedError("Incorrect username or password.") from None
            raise

    setattr(call, _MARK, True)
    return call


def install() -> None:
    """Patch moto's Cognito backend (idempotent)."""
    if getattr(CognitoIdpBackend.admin_initiate_auth, _MARK, False):
        return
    # admin_initiate_auth(user_pool_id, client_id, auth_flow, ...);
    # initiate_auth(client_id, auth_flow, ...)
    CognitoIdpBackend.admin_initiate_auth = _enforced(  # type: ignore[method-assign]
        CognitoIdpBackend.admin_initiate_auth, client_arg=1
    )
    CognitoIdpBackend.initiate_auth = _enforced(  # type: ignore[method-assign]
        CognitoIdpBackend.initiate_auth, client_arg=0
    )


def uninstall() -> None:
    """Give moto its own calls back (moto is process-wide: for tests that install)."""
    for name in ("admin_initiate_auth", "initiate_auth"):
        method = getattr(CognitoIdpBackend, name)
        if getattr(method, _MARK, False):
            setattr(CognitoIdpBackend, name, method.__wrapped__)
