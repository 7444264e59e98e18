"""Every function's role names only its own service's resources (DESIGN section 2).

A service's public interface to the others is its functions: a role may invoke another
service's function (and do nothing else with it), but never name another service's table,
queue or secret. What another service may invoke synchronously only reads: its role changes
nothing, and it has no event source of its own (writes go through the saga and the bus).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloudformation.template import Template
from tests.support.template import TEMPLATE, raw_template

# A resource (or parameter) belongs to the service whose name it starts with.
OWNER_PREFIXES = {
    "customers": ("Customer",),
    "inventory": ("Inventory",),
    "orders": ("Order",),
    "payments": ("Payment",),
    "notifications": ("Notification",),
    "shipping": ("Shipping",),
    "health": (),
    "api_docs": (),  # serves a file of its own package: no resources at all
}
SHARED = {"EventBus": {"events:PutEvents"}}  # the one bus every service publishes to
INVOKE_ACTIONS = {"lambda:InvokeFunction"}  # all a role may do with a function it names
READ_ONLY_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
    "dynamodb:ConditionCheckItem",
}
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


def service_of(function: str) -> str:
    """The service a function belongs to: the folder of its code (functions/<service>/)."""
    properties = template.resources[function]["Properties"]
    return str(properties["Code"]["S3Key"]).strip("/").split("/")[1]


def is_function(logical_id: str) -> bool:
    return template.resources.get(logical_id, {}).get("Type") == "AWS::Lambda::Function"


def functions() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, properties in template.of_type("AWS::Lambda::Function"):
        role = template.resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        found.append((name, service_of(name), role))
    return found


def statements(role: dict[str, Any]) -> Iterator[tuple[set[str], Any]]:
    """(actions, resources) of every statement of a role's inline policies."""
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            yield set(action if isinstance(action, list) else [action]), statement["Resource"]


def cross_service_invocations() -> list[tuple[str, str]]:
    """(caller, callee) for every function whose role may invoke another service's function."""
    found = []
    for name, service, role in functions():
        for _, resources in statements(role):
            found.extend(
                (name, ref)
                for ref in referenced(resources)
                if is_function(ref) and service_of(ref) != service
            )
    return found


@pytest.mark.parametrize(
    ("function", "service", "role"), functions(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_role_names_only_its_own_services_resources(
    function: str, service: str, role: dict[str, Any]
) -> None:
    prefixes = OWNER_PREFIXES[service]
    for actions, resources in statements(role):
        assert resources != "*", f"{function}: {actions} on every resource"
        for ref in referenced(resources):
            if ref in SHARED:
                assert actions <= SHARED[ref], f"{function}: {actions} on shared {ref}"
            elif is_function(ref):  # a service's public interface: invoke it, nothing else
                assert actions <= INVOKE_ACTIONS, (
                    f"{function}: {actions} on {service_of(ref)}'s function {ref}"
                )
            else:
                assert ref.startswith(prefixes), f"{function} ({service}) reaches {ref}"
    assert set(role.get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED


def test_order_details_invoke_the_owning_services_query_functions() -> None:
    # A floor, so the test below never runs over nothing.
    assert {
        ("GetOrderDetailsFunction", "GetCustomerProfileFunction"),
        ("GetOrderDetailsFunction", "GetPaymentFunction"),
        ("GetOrderDetailsFunction", "GetShipmentFunction"),
    } <= set(cross_service_invocations())


@pytest.mark.parametrize(
    ("caller", "callee"), cross_service_invocations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_what_another_service_invokes_only_reads(caller: str, callee: str) -> None:
    role = template.resources[template.resources[callee]["Properties"]["Role"]["Fn::GetAtt"][0]]
    for actions, _ in statements(role["Properties"]):
        assert actions <= READ_ONLY_ACTIONS, f"{callee} (invoked by {caller}) may {actions}"
    events = raw_template()["Resources"][callee]["Properties"].get("Events", {})
    assert events == {}, f"{callee} (invoked by {caller}) has event sources: {list(events)}"


def test_every_function_has_its_own_role() -> None:
    roles = [
        properties["Role"]["Fn::GetAtt"][0]
        for _, properties in template.of_type("AWS::Lambda::Function")
    ]
    assert len(roles) == len(set(roles))


def test_runtime_is_declared_once_in_globals() -> None:
    raw = raw_template()
    assert raw["Globals"]["Function"]["Runtime"] == "python3.11"
    assert not [n for n, r in raw["Resources"].items() if "Runtime" in r.get("Properties", {})]
