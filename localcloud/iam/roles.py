"""The template's IAM roles, their policies, and the credentials each one's callers sign with.

Every AWS::IAM::Role of the translated template (SAM's policy templates already expanded by
aws-sam-translator) becomes a `Role` holding its inline policies and its AWS managed policies
(their real documents, from the copy moto keeps in `moto/iam/aws_managed_policies.py`, taken
from AWS's own list). Each role gets its own temporary credentials for this run, like the
ones Lambda and Step Functions get from STS when they assume an execution role; localcloud's
own provisioning and the test harness sign with the admin key instead.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.iam.policy import Decision, Policy, PolicyError, Principal, Request, evaluate
from localcloud.spec import ACCOUNT_ID

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template

ADMIN_ACCESS_KEY_ID = LOCAL_CREDENTIALS["aws_access_key_id"]
_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    @classmethod
    def new(cls) -> Credentials:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return cls(
            access_key_id="ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
            secret_access_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(48),
        )

    def environment(self) -> dict[str, str]:
        """As Lambda hands a function its execution role's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


@dataclass(frozen=True)
class Role:
    name: str  # the logical id, which is also its name in localcloud
    policies: tuple[Policy, ...]
    credentials: Credentials
    trust: Policy | None = None  # AssumeRolePolicyDocument

    def trusts(self, service: str) -> bool:
        """May this AWS service (`lambda.amazonaws.com`) assume the role?"""
        if self.trust is None:
            return False
        request = Request("sts:AssumeRole", self.arn, {}, Principal("Service", service))
        return evaluate([self.trust], request) is Decision.ALLOWED

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.name}"

    @property
    def session_arn(self) -> str:
        """The caller AWS names in an AccessDenied message."""
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.name}/localcloud"


class UnknownManagedPolicy(LookupError):
    pass


@cache
def _aws_managed_documents() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    documents: dict[str, Any] = json.loads(aws_managed_policies_data)
    return documents


def aws_managed_policy(arn: str) -> Policy:
    """An AWS managed policy's current document, by its ARN (path included)."""
    if not arn.startswith(_MANAGED_PREFIX):
        raise UnknownManagedPolicy(f"{arn} is not an AWS managed policy")
    path_and_name = "/" + arn.removeprefix(_MANAGED_PREFIX)
    path, _, name = path_and_name.rpartition("/")
    entry = _aws_managed_documents().get(name)
    if entry is None or entry.get("Path", "/") != path + "/":
        raise UnknownManagedPolicy(f"no AWS managed policy {arn}")
    return Policy.parse(name, entry["Document"])


class Roles:
    """Roles by name, by ARN and by access key; the admin key is not a role."""

    def __init__(self, roles: Mapping[str, Role]) -> None:
        self._by_name = dict(roles)
        self._by_key = {r.credentials.access_key_id: r for r in roles.values()}

    @classmethod
    def from_template(cls, template: Template) -> Roles:
        """Call after provisioning: policies name tables, queues and machines by their ARNs."""
        roles = {}
        for logical_id, raw in template.of_type("AWS::IAM::Role"):
            properties = template.resolve(raw)
            policies = []
            for inline in properties.get("Policies", []):
                name = inline.get("PolicyName", logical_id)
                policies.append(Policy.parse(f"{logical_id}/{name}", inline["PolicyDocument"]))
            for arn in properties.get("ManagedPolicyArns", []):
                policies.append(aws_managed_policy(arn))
            if "PermissionsBoundary" in properties:
                raise PolicyError(f"{logical_id}: permissions boundaries are not modelled")
            trust = properties.get("AssumeRolePolicyDocument")
            roles[logical_id] = Role(
                logical_id,
                tuple(policies),
                Credentials.new(),
                Policy.parse(f"{logical_id}/trust", trust) if trust else None,
            )
        return cls(roles)

    def __iter__(self) -> Iterator[Role]:
        return iter(self._by_name.values())

    def by_name(self, name: str) -> Role | None:
        return self._by_name.get(name)

    def by_arn(self, arn: str) -> Role | None:
        prefix = f"arn:aws:iam::{ACCOUNT_ID}:role/"
        if not arn.startswith(prefix):
            return None
        return self._by_name.get(arn.removeprefix(prefix).rsplit("/", 1)[-1])

    def by_access_key(self, access_key_id: str) -> Role | None:
        return self._by_key.get(access_key_id)

    def for_resource(self, template: Template, logical_id: str, role_property: str) -> Role:
        """The role a function (`Role`) or state machine (`RoleArn`) runs with."""
        properties = template.resources[logical_id].get("Properties", {})
        arn = template.resolve(properties.get(role_property, ""))
        role = self.by_arn(str(arn))
        if role is None:
            raise LookupError(f"{logical_id}: its role {arn!r} is not a role of this template")
        return role
