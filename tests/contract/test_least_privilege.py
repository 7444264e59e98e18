"""Every function's role names only its own service's resources (DESIGN section 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.template import Template
from tests.support.template import TEMPLATE

# A resource (or parameter) belongs to the service whose name it starts with.
OWNER_PREFIXES = {
    "customers": ("Customer",),
    "inventory": ("Inventory",),
    "orders": ("Order",),
    "payments": ("Payment",),
    "notifications": ("Notification",),
    "health": (),
}
SHARED = {"EventBus": {"events:PutEvents"}}  # the one bus every service publishes to
# What SAM attaches by itself: logs, X-Ray, and reading the function's own event source.
ALLOWED_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}

template = Template.load(TEMPLATE)


def referenced(value: Any) -> Iterator[str]:
    """Logical ids and parameters an intrinsic-laden value refers to."""
    if isinstance(value, list):
        for v in value:
            yield from referenced(v)
    elif isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and not str(argument).startswith("AWS::"):
                yield str(argument)
            elif key == "Fn::GetAtt":
                yield str(argument[0] if isinstance(argument, list) else argument.split(".")[0])
            else:
                yield from referenced(argument)


def functions() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, properties in template.of_type("AWS::Lambda::Function"):
        service = str(properties["Code"]["S3Key"]).strip("/").split("/")[1]
        role = template.resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        found.append((name, service, role))
    return found


@pytest.mark.parametrize(
    ("function", "service", "role"), functions(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_role_names_only_its_own_services_resources(
    function: str, service: str, role: dict[str, Any]
) -> None:
    prefixes = OWNER_PREFIXES[service]
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = set(
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = statement["Resource"]
            assert resources != "*", f"{function}: {actions} on every resource"
            for ref in referenced(resources):
                if ref in SHARED:
                    assert actions <= SHARED[ref], f"{function}: {actions} on shared {ref}"
                else:
                    assert ref.startswith(prefixes), f"{function} ({service}) reaches {ref}"
    assert set(role.get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED


def test_every_function_has_its_own_role() -> None:
    roles = [
        properties["Role"]["Fn::GetAtt"][0]
        for _, properties in template.of_type("AWS::Lambda::Function")
    ]
    assert len(roles) == len(set(roles))


def test_runtime_is_declared_once_in_globals() -> None:
    from tests.support.template import raw_template

    raw = raw_template()
    assert raw["Globals"]["Function"]["Runtime"] == "python3.11"
    assert not [n for n, r in raw["Resources"].items() if "Runtime" in r.get("Properties", {})]
