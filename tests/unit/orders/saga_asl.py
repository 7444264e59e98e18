"""The order saga's ASL as CloudFormation would deploy it: DefinitionSubstitutions applied."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.template import ROOT, raw_template, resource

ASL_PATH = ROOT / "state_machines" / "order_saga.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"


def function_arn(logical_id: str) -> str:
    return f"{ACCOUNT_ARN}:{logical_id}"


def substitution_values(**parameters: Any) -> dict[str, str]:
    """Each DefinitionSubstitutions key resolved: !GetAtt F.Arn -> F's ARN, !Ref P -> P's value."""
    substitutions = resource("OrderSagaStateMachine")["Properties"]["DefinitionSubstitutions"]
    template_parameters = raw_template()["Parameters"]
    values: dict[str, str] = {}
    for key, value in substitutions.items():
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", f"{key}: only function ARNs are substituted"
            values[key] = function_arn(logical_id)
        else:
            name = value["Ref"]
            values[key] = str(parameters.get(name, template_parameters[name]["Default"]))
    return values


def placeholders() -> set[str]:
    return set(PLACEHOLDER.findall(ASL_PATH.read_text()))


def substituted_definition(**parameters: Any) -> dict[str, Any]:
    """The definition after substitution, parsed: valid JSON only once substituted."""
    values = substitution_values(**parameters)
    text = PLACEHOLDER.sub(lambda match: values[match.group(1)], ASL_PATH.read_text())
    definition: dict[str, Any] = json.loads(text)
    return definition
