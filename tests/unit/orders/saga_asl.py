"""The workflows' ASL as CloudFormation would deploy it: DefinitionSubstitutions applied.

`OrderSagaStateMachine` (state_machines/order_saga.asl.json) by default;
`OrderCancellationStateMachine` (state_machines/order_cancellation.asl.json) when named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.template import ROOT, raw_template, resource

SAGA = "OrderSagaStateMachine"
CANCELLATION = "OrderCancellationStateMachine"
ASL_PATH = ROOT / "state_machines" / "order_saga.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
EXPRESS_CONDITION = "SagaIsExpress"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012"


def function_arn(logical_id: str) -> str:
    return f"{ACCOUNT_ARN}:{logical_id}"


def asl_path(state_machine: str = SAGA) -> Path:
    return ROOT / str(resource(state_machine)["Properties"]["DefinitionUri"])


def substitution_values(
    state_machine: str = SAGA, refs: dict[str, str] | None = None, **parameters: Any
) -> dict[str, str]:
    """Each DefinitionSubstitutions key resolved: !GetAtt F.Arn -> F's ARN, !Ref P -> P's value
    (a template parameter), !Ref Q -> `refs[Q]` or Q's URL (a queue of the template) or Q's
    name (a table), !If [SagaIsExpress, a, b] -> a for SagaWorkflowType=EXPRESS, else b."""
    substitutions = resource(state_machine)["Properties"]["DefinitionSubstitutions"]
    template_parameters = raw_template()["Parameters"]

    def value_of(key: str, value: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        if "Fn::If" in value:
            condition, express, standard = value["Fn::If"]
            assert condition == EXPRESS_CONDITION, f"{key}: only !If [{EXPRESS_CONDITION}, ...]"
            return value_of(key, express if is_express(**parameters) else standard)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", f"{key}: only function ARNs are substituted"
            return function_arn(logical_id)
        name = value["Ref"]
        if name in template_parameters:
            return str(parameters.get(name, template_parameters[name]["Default"]))
        if resource(name)["Type"] == "AWS::DynamoDB::Table":
            return str((refs or {}).get(name, name))
        assert resource(name)["Type"] == "AWS::SQS::Queue", f"{key}: !Ref {name}"
        return (refs or {}).get(name, f"{QUEUE_URL}/{name}")

    return {key: value_of(key, value) for key, value in substitutions.items()}


def is_express(**parameters: Any) -> bool:
    workflow_type = parameters.get(
        "SagaWorkflowType", raw_template()["Parameters"]["SagaWorkflowType"]["Default"]
    )
    return bool(workflow_type == "EXPRESS")


def placeholders(state_machine: str = SAGA) -> set[str]:
    return set(PLACEHOLDER.findall(asl_path(state_machine).read_text()))


def substituted_definition(
    state_machine: str = SAGA, refs: dict[str, str] | None = None, **parameters: Any
) -> dict[str, Any]:
    """The definition after substitution, parsed: valid JSON only once substituted."""
    values = substitution_values(state_machine, refs, **parameters)
    text = PLACEHOLDER.sub(
        lambda match: values[match.group(1)], asl_path(state_machine).read_text()
    )
    definition: dict[str, Any] = json.loads(text)
    return definition
