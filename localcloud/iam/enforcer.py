"""Every request to the AWS endpoint, authenticated and authorized as AWS would.

Authentication: the SigV4 `Credential=` access key names the caller. localcloud's admin key
(provisioning, the test harness, the CLI) may do anything; any other key must be a role's,
presented with that role's session token (`X-Amz-Security-Token`), which stands in for the
signature check (the secret is never recomputed here: callers are processes localcloud
started). Unsigned calls are refused, except the ones AWS serves unsigned (Cognito's
sign-in operations and its JWKS).

Authorization: the call's IAM requests (localcloud.iam.requests) are evaluated against the
role's policies (localcloud.iam.policy); the first one not allowed is refused with the
service's own error, and logged once per (role, action, resource) at WARNING.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from localcloud.endpoint.calls import AwsCall, error_response, identify, peek_body, query_action
from localcloud.iam.policy import Decision, Principal, Request, evaluate
from localcloud.iam.requests import lambda_requests, parse_params, requests_for
from localcloud.iam.roles import ADMIN_ACCESS_KEY_ID, Role, Roles
from localcloud.spec import ACCOUNT_ID

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

log = logging.getLogger("localcloud.iam")

_ACCESS_KEY = re.compile(r"Credential=(?P<key>[^/,\s]+)/")

# Cognito operations AWS serves without SigV4 (the client app's sign-in and sign-up).
_COGNITO_PUBLIC = {
    "InitiateAuth",
    "RespondToAuthChallenge",
    "SignUp",
    "ConfirmSignUp",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ResendConfirmationCode",
    "GetUser",
    "GlobalSignOut",
    "RevokeToken",
    "ChangePassword",
    "AssociateSoftwareToken",  # the user enrols an authenticator with its access token
    "VerifySoftwareToken",
    "SetUserMFAPreference",
    "GetId",
    "GetCredentialsForIdentity",
}

# Query-protocol actions AWS serves unsigned: the links in SNS's messages.
_PUBLIC_QUERY_ACTIONS = {"ConfirmSubscription", "Unsubscribe"}

# How each protocol's service names "not allowed" (HTTP status, code).
_ACCESS_DENIED: dict[str, tuple[int, str]] = {
    "lambda": (403, "AccessDeniedException"),
    "sqs": (403, "AccessDenied"),
    "ses": (403, "AccessDenied"),
    "email": (403, "AccessDenied"),
    "sns": (403, "AuthorizationError"),
    "monitoring": (403, "AccessDenied"),
    "sts": (403, "AccessDenied"),
}
_DEFAULT_ACCESS_DENIED = (400, "AccessDeniedException")


def _authentication_error(call: AwsCall, missing: bool) -> tuple[int, str, str]:
    status = 403 if call.protocol in ("query", "rest") else 400
    if missing:
        suffix = "" if call.protocol == "query" else "Exception"
        return status, f"MissingAuthenticationToken{suffix}", "Missing Authentication Token"
    code = "InvalidClientTokenId" if call.protocol == "query" else "UnrecognizedClientException"
    return status, code, "The security token included in the request is invalid."


class Authorizer:
    """The endpoint's gate: `check(environ)` answers None (go on) or the refusal to send."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles
        self._refused: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self.refusals = 0

    def check(self, environ: dict[str, Any]) -> Response | None:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/"):
            return None  # localcloud's own control of moto (its config), not an AWS API
        call = identify(environ)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        match = _ACCESS_KEY.search(authorization)
        if call is None:  # unsigned, and no JSON target: a query-protocol call, or not AWS's
            action = query_action(environ)
            if action is None or action in _PUBLIC_QUERY_ACTIONS:
                return None  # Cognito's JWKS, an SNS confirmation link, ...
            query_call = AwsCall("unknown", action, "query")
            return error_response(query_call, *_authentication_error(query_call, missing=True))
        if match is None:
            if call.service == "cognito-idp" and call.operation in _COGNITO_PUBLIC:
                return None
            return error_response(call, *_authentication_error(call, missing=True))
        access_key = match.group("key")
        if access_key == ADMIN_ACCESS_KEY_ID:
            return None
        role = self.roles.by_access_key(access_key)
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        if role is None or token != role.credentials.session_token:
            return error_response(call, *_authentication_error(call, missing=False))
        for request in self._requests(call, environ):
            decision = self.decide(role, request)
            if decision is not Decision.ALLOWED:
                return self._refuse(call, role, request, decision)
        return None

    def decide(self, role: Role, request: Request) -> Decision:
        principal = Principal("AWS", role.arn, ACCOUNT_ID)
        return evaluate(
            role.policies, Request(request.action, request.resource, request.context, principal)
        )

    def _requests(self, call: AwsCall, environ: dict[str, Any]) -> list[Request]:
        if call.service == "lambda":
            return lambda_requests(
                call.operation, environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
            )
        params = parse_params(call.protocol, peek_body(environ))
        return list(requests_for(call.service, call.operation, params))

    def _refuse(self, call: AwsCall, role: Role, request: Request, decision: Decision) -> Response:
        self.log_refusal(role, request, decision)
        status, code = _ACCESS_DENIED.get(call.service, _DEFAULT_ACCESS_DENIED)
        return error_response(call, status, code, denial_message(role, request, decision))

    def log_refusal(self, role: Role, request: Request, decision: Decision) -> None:
        key = (role.name, request.action, request.resource)
        with self._lock:
            self.refusals += 1
            if key in self._refused:
                return
            self._refused.add(key)
        log.warning(
            "IAM refused %s on %s to role %s (%s): the role's policies do not allow it",
            request.action,
            request.resource,
            role.name,
            decision.value,
            extra={"role": role.name, "action": request.action, "resource": request.resource},
        )


def denial_message(role: Role, request: Request, decision: Decision) -> str:
    why = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {request.action} action"
    )
    return (
        f"User: {role.session_arn} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {why}"
    )
