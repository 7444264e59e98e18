"""Every function's role names only its own service's resources (DESIGN section 2).

A service's public interface to the others is its functions: a role may invoke another
service's function (and do nothing else with it), but never name another service's table,
queue or secret. What another service may invoke synchronously only reads: its role changes
nothing, and it has no event source of its own (writes go through the saga and the bus).

By construction, no role reaches data on every resource: event sources are explicit
AWS::Lambda::EventSourceMapping resources whose function's role names the exact stream or
queue (SAM's `Events: DynamoDB/SQS` would attach AWSLambdaDynamoDBExecutionRole or
AWSLambdaSQSQueueExecutionRole: every stream and queue in the account), and each state
machine's role may invoke exactly the functions its definition's tasks name.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.template import loaded_template, raw_template

# A resource (or parameter) belongs to the service whose name it starts with.
OWNER_PREFIXES = {
    "customers": ("Customer",),
    "inventory": ("Inventory",),
    "orders": ("Order",),
    "payments": ("Payment",),
    "notifications": ("Notification",),
    "shipping": ("Shipping",),
    "health": (),
    # The pool's Pre Token Generation trigger: AdminGetUser on the account's user pools only
    # (test_the_token_trigger_only_reads_users).
    "identity": (),
    "api_docs": (),  # serves a file of its own package: no resources at all
}
SHARED = {"EventBus": {"events:PutEvents"}}  # the one bus every service publishes to
# Keys that seal a value from its producer to its consumer (issue 11), and what another service
# than the key's owner may do with them. Payments' key seals the card token: the orders edge
# (PlaceOrder) may seal with it, never open (finding 3). Customers' key seals emails and
# addresses: orders seals an order's shipping address, shipping and notifications open what
# they need. Exactly which role may do what with each: test_sealing_key_grants.
SEALED_AT_THE_EDGE: dict[str, dict[str, set[str]]] = {
    "PaymentTokenKey": {"orders": {"kms:Encrypt"}},
    "CustomerDataKey": {
        "orders": {"kms:Encrypt"},
        "shipping": {"kms:Decrypt"},
        "notifications": {"kms:Decrypt"},
    },
}
SEALING_KEY_GRANTS: dict[str, dict[str, set[str]]] = {
    "PaymentTokenKey": {
        "PlaceOrderFunction": {"kms:Encrypt"},
        "ChargePaymentFunction": {"kms:Decrypt"},
    },
    "CustomerDataKey": {
        "RegisterCustomerFunction": {"kms:Encrypt"},
        "PlaceOrderFunction": {"kms:Encrypt"},
        "RecordCustomerAddressFunction": {"kms:Decrypt"},
        "ScheduleShipmentFunction": {"kms:Decrypt"},
        "SendNotificationFunction": {"kms:Decrypt"},
    },
}
# The encryption context each key policy statement that allows a crypto operation asks for:
# exactly these keys, each present.
SEALING_CONTEXTS = {
    "PaymentTokenKey": [["orderId"]],
    "CustomerDataKey": [["customerId", "field"], ["orderId", "field"]],
}
INVOKE_ACTIONS = {"lambda:InvokeFunction"}  # all a role may do with a function it names
READ_ONLY_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
    "dynamodb:ConditionCheckItem",
}
# What SAM attaches by itself, each on "*" and accepted for a reason. No data access.
ALLOWED_MANAGED = {
    # logs:CreateLogGroup/CreateLogStream/PutLogEvents: write-only, the function's own logs.
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    # xray:PutTraceSegments/PutTelemetryRecords/GetSampling*: X-Ray has no resource-level
    # permissions, and writes traces only.
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
# Actions an inline statement may allow on "*", with the reason each is not data access.
WILDCARD_ACCEPTED = {
    # X-Ray has no resource-level permissions (Tracing of the state machines).
    "xray:PutTraceSegments": "writes traces only",
    "xray:PutTelemetryRecords": "writes telemetry only",
    "xray:GetSamplingRules": "reads the account's sampling rules",
    "xray:GetSamplingTargets": "reads the account's sampling quotas",
    # Step Functions logging: CloudWatch Logs' vended log delivery has no resource-level
    # permissions (Step Functions developer guide, "IAM policies for logging").
    "logs:CreateLogDelivery": "vended log delivery",
    "logs:GetLogDelivery": "vended log delivery",
    "logs:UpdateLogDelivery": "vended log delivery",
    "logs:DeleteLogDelivery": "vended log delivery",
    "logs:ListLogDeliveries": "vended log delivery",
    "logs:PutResourcePolicy": "the log group's resource policy for the delivery",
    "logs:DescribeResourcePolicies": "vended log delivery",
    "logs:DescribeLogGroups": "lists names only",
}
# What reading an event source takes, by the source's kind.
EVENT_SOURCE_ACTIONS = {
    "dynamodb": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
    "sqs": {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    },
}

template = loaded_template()
MAPPING = "AWS::Lambda::EventSourceMapping"


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
            elif service in SEALED_AT_THE_EDGE.get(ref, {}):
                assert actions <= SEALED_AT_THE_EDGE[ref][service], (
                    f"{function}: {actions} on {ref}"
                )
            elif is_function(ref):  # a service's public interface: invoke it, nothing else
                assert actions <= INVOKE_ACTIONS, (
                    f"{function}: {actions} on {service_of(ref)}'s function {ref}"
                )
            else:
                assert ref.startswith(prefixes), f"{function} ({service}) reaches {ref}"
    assert set(role.get("ManagedPolicyArns", [])) <= ALLOWED_MANAGED
    if function in {m["FunctionName"]["Ref"] for _, m in template.of_type(MAPPING)}:
        return
    for actions, _ in statements(role):  # no event source: nothing to read from one
        assert not actions & (EVENT_SOURCE_ACTIONS["dynamodb"] | EVENT_SOURCE_ACTIONS["sqs"])


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
    mappings = [
        m
        for _, m in template.of_type("AWS::Lambda::EventSourceMapping")
        if m["FunctionName"] == {"Ref": callee}
    ]
    assert mappings == [], f"{callee} (invoked by {caller}) has event source mappings"


def test_every_function_has_its_own_role() -> None:
    roles = [
        properties["Role"]["Fn::GetAtt"][0]
        for _, properties in template.of_type("AWS::Lambda::Function")
    ]
    assert len(roles) == len(set(roles))


def test_runtime_is_declared_once_in_globals() -> None:
    raw = raw_template()
    assert raw["Globals"]["Function"]["Runtime"] == "python3.13"
    assert not [n for n, r in raw["Resources"].items() if "Runtime" in r.get("Properties", {})]


# ---------------------------------------------------------------- nothing on "*"


def role_of(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties = resources[logical_id]["Properties"]
    role_ref = properties.get("Role") or properties.get("RoleArn")
    return dict(resources[role_ref["Fn::GetAtt"][0]]["Properties"])


def statements_of(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(resources: dict[str, Any]) -> list[str]:
    """Every Allow on "*" (or on a whole service's ARN space) that is not accepted above."""
    found = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        role = resource["Properties"]
        for arn in role.get("ManagedPolicyArns", []):
            if arn not in ALLOWED_MANAGED:
                found.append(f"{logical_id}: managed policy {arn}")
        for statement in statements_of(role):
            if statement.get("Effect") != "Allow":
                continue
            everything = [
                r for r in as_list(statement["Resource"]) if r == "*" or str(r).endswith(":*")
            ]
            actions = set(as_list(statement["Action"]))
            if everything and not actions <= set(WILDCARD_ACCEPTED):
                found.append(f"{logical_id}: {sorted(actions - set(WILDCARD_ACCEPTED))} on *")
    return found


def test_no_role_reaches_data_on_every_resource() -> None:
    assert wildcard_grants(template.resources) == []


# ---------------------------------------------------------------- event sources


def event_source_problems(resources: dict[str, Any]) -> list[str]:
    """Each mapping's function may read exactly its source and send to its on-failure queue."""
    problems = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        mapping = resource["Properties"]
        source = mapping["EventSourceArn"]
        kind = "sqs" if "Queue" in str(source) else "dynamodb"
        needed = EVENT_SOURCE_ACTIONS[kind]
        role = role_of(resources, mapping["FunctionName"]["Ref"])
        granted: set[str] = set()
        for statement in statements_of(role):
            actions = set(as_list(statement["Action"])) & needed
            if not actions:
                continue
            if as_list(statement["Resource"]) != [source]:
                problems.append(f"{logical_id}: {sorted(actions)} on {statement['Resource']}")
            granted |= actions
        if granted != needed:
            problems.append(f"{logical_id}: its function may not {sorted(needed - granted)}")
        destination = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination is not None and not any(
            "sqs:SendMessage" in as_list(s["Action"]) and as_list(s["Resource"]) == [destination]
            for s in statements_of(role)
        ):
            problems.append(f"{logical_id}: its function may not send to {destination}")
    return problems


def test_event_sources_are_granted_by_exact_arn() -> None:
    mappings = list(template.of_type("AWS::Lambda::EventSourceMapping"))
    assert len(mappings) >= 9  # every stream and queue consumer, so this never runs over nothing
    assert event_source_problems(template.resources) == []


@pytest.mark.parametrize("kind", ["dynamodb", "sqs"])
def test_an_event_source_grant_widened_to_every_resource_is_caught(kind: str) -> None:
    # Given a copy of the template where one function's source grant names "*"
    resources = copy.deepcopy(template.resources)
    mapping = next(
        m["Properties"]
        for m in resources.values()
        if m["Type"] == "AWS::Lambda::EventSourceMapping"
        and ("Queue" in str(m["Properties"]["EventSourceArn"])) == (kind == "sqs")
    )
    role = role_of(resources, mapping["FunctionName"]["Ref"])
    role_id = resources[mapping["FunctionName"]["Ref"]]["Properties"]["Role"]["Fn::GetAtt"][0]
    for statement in statements_of(resources[role_id]["Properties"]):
        if set(as_list(statement["Action"])) & EVENT_SOURCE_ACTIONS[kind]:
            statement["Resource"] = "*"
    assert role  # the function has a role of its own
    # When / Then: both checks name it
    assert event_source_problems(resources)
    assert wildcard_grants(resources)


def test_a_managed_event_source_policy_is_caught() -> None:
    # Given a copy where a function's role gets what SAM's Events: DynamoDB would attach
    resources = copy.deepcopy(template.resources)
    role_id = resources["OrdersEventRelayFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    resources[role_id]["Properties"]["ManagedPolicyArns"].append(
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    )
    # Then
    assert wildcard_grants(resources) == [
        f"{role_id}: managed policy "
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    ]


# ---------------------------------------------------------------- state machines

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def task_functions(machine: dict[str, Any]) -> set[str]:
    """The functions the definition's Task states invoke (their Resource ARNs)."""
    substitutions = machine.get("DefinitionSubstitutions", {})

    def placeholder(match: re.Match[str]) -> str:
        in_string = match.string[match.start() - 1] == '"'
        refs = list(referenced(substitutions.get(match.group(1))))
        return f"LOGICAL:{refs[0]}" if in_string and refs else "x" if in_string else "0"

    text = template.local_path(machine["DefinitionS3Location"]).read_text()
    definition = json.loads(_PLACEHOLDER.sub(placeholder, text))
    found: set[str] = set()

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("Type") == "Task":
                resource = str(state["Resource"])
                target = (
                    str(state.get("Parameters", {}).get("FunctionName", ""))
                    if resource.startswith("arn:aws:states:::lambda:invoke")
                    else resource
                )
                if target.startswith("LOGICAL:"):
                    found.add(target.removeprefix("LOGICAL:"))
            for branch in state.get("Branches", []):
                walk(branch["States"])
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key]["States"])

    walk(definition["States"])
    return found


def state_machines() -> list[tuple[str, dict[str, Any]]]:
    return list(template.of_type("AWS::StepFunctions::StateMachine"))


@pytest.mark.parametrize(
    ("name", "machine"), state_machines(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_state_machine_may_invoke_exactly_its_tasks_functions(
    name: str, machine: dict[str, Any]
) -> None:
    tasks = task_functions(machine)
    assert tasks, f"{name}: no Lambda task found in its definition"
    invocable: set[str] = set()
    for statement in statements_of(role_of(template.resources, name)):
        if "lambda:InvokeFunction" in as_list(statement["Action"]):
            assert set(as_list(statement["Action"])) == {"lambda:InvokeFunction"}
            refs = set(referenced(statement["Resource"]))
            assert refs, f"{name}: lambda:InvokeFunction on {statement['Resource']}"
            invocable |= refs
    assert invocable == tasks


@pytest.mark.parametrize("key", sorted(SEALING_KEY_GRANTS))
def test_sealing_key_grants(key: str) -> None:
    """Only the producers may seal with a sealing key, only the consumers that need the clear
    value may open: no other role (function or state machine) names the key, and the key
    policy asks every use for the context that binds the value to its order or customer."""
    grants = SEALING_KEY_GRANTS[key]
    granted: dict[str, set[str]] = {}
    for logical_id, role in template.of_type("AWS::IAM::Role"):
        for actions, resources in statements(role):
            if key in referenced(resources):
                granted.setdefault(logical_id, set()).update(actions)
            else:  # no statement reaches the key another way (every key, or by a wildcard)
                assert not any(a.startswith("kms:") for a in actions) or resources != "*", (
                    logical_id,
                    actions,
                )
    roles = {
        template.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]: function
        for function in grants
    }
    assert {roles.get(r, r): a for r, a in granted.items()} == grants

    properties = template.resources[key]["Properties"]
    assert properties["EnableKeyRotation"] is True
    contexts = []
    for statement in properties["KeyPolicy"]["Statement"]:
        actions = statement["Action"]
        crypto = {a for a in ([actions] if isinstance(actions, str) else actions)}
        crypto &= {"kms:*", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}
        if crypto:  # every use names what the value was sealed for
            assert crypto <= {"kms:Encrypt", "kms:Decrypt"}, statement
            condition = statement["Condition"]
            names = condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"]
            assert condition["Null"] == {f"kms:EncryptionContext:{n}": "false" for n in names}
            contexts.append(names)
    assert contexts == SEALING_CONTEXTS[key]


# ---------------------------------------------------------------- the pool's trigger


def test_the_token_trigger_only_reads_users() -> None:
    # The one grant no logical id can name: the pool's ARN would make a circle (UserPool ->
    # PreTokenGenerationFunction -> its role -> UserPool), so the role names the user pools of
    # the stack's account and region, for AdminGetUser alone (no other action, no other service).
    role = role_of(template.resources, "PreTokenGenerationFunction")
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements_of(role)] == [
        (
            "Allow",
            "cognito-idp:AdminGetUser",
            {
                "Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}"
                ":userpool/*"
            },
        )
    ]
    assert set(role["ManagedPolicyArns"]) <= ALLOWED_MANAGED
