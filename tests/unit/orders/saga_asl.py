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
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012"


def function_arn(logical_id: str) -> str:
    return f"{ACCOUNT_ARN}:{logical_id}"


def asl_path(state_machine: str = SAGA) -> Path:
    return ROOT / str(resource(state_machine)["Properties"]["DefinitionUri"])


def substitution_values(
    state_machine: str = SAGA, refs: dict[str, str] | None = None, **parameters: Any
) -> dict[str, str]:
    """Each DefinitionSubstitutions key resolved: !GetAtt F.Arn -> F's ARN, !Ref P -> P's value
    (a template parameter), !Ref Q -> `refs[Q]` or Q's URL (a queue of the template)."""
    substitutions = resource(state_machine)["Properties"]["DefinitionSubstitutions"]
    template_parameters = raw_template()["Parameters"]
    values: dict[str, str] = {}
    for key, value in substitutions.items():
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", f"{key}: only function ARNs are substituted"
            values[key] = function_arn(logical_id)
            continue
        name = value["Ref"]
        if name in template_parameters:
            values[key] = str(parameters.get(name, template_parameters[name]["Default"]))
        else:
            assert resource(name)["Type"] == "AWS::SQS::Queue", f"{key}: !Ref {name}"
            values[key] = (refs or {}).get(name, f"{QUEUE_URL}/{name}")
    return values


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
