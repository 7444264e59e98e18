"""template.yaml deploys to a fresh account as it stands (issue 7): a current runtime and
architecture, built for them from any local Python, and settings that cannot be forgotten."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from localcloud.cloudformation.template import Template
from tests.support.template import ROOT, TEMPLATE, loaded_template, raw_template

template = loaded_template()
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
# Settings an operator must give on every deploy: no default, so CloudFormation refuses a
# stack without them ("Parameters: [...] must have values") before creating anything.
DEPLOY_SETTINGS = ("PaymentProviderBaseUrl", "NotificationSenderEmail", "OperatorAlertEmail")


def parameters() -> dict[str, dict[str, Any]]:
    return dict(raw_template()["Parameters"])


def test_every_function_runs_python313_on_arm64() -> None:
    functions = list(template.of_type("AWS::Lambda::Function"))
    assert len(functions) >= 30
    for name, properties in functions:
        assert properties["Runtime"] == RUNTIME, name
        assert properties["Architectures"] == [ARCHITECTURE], name


def test_the_layer_is_built_for_that_runtime_and_architecture() -> None:
    (layer,) = [r for r in raw_template()["Resources"].values() if "LayerVersion" in r["Type"]]
    assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME]
    assert layer["Properties"]["CompatibleArchitectures"] == [ARCHITECTURE]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": ARCHITECTURE}
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile
    assert "--only-binary=:all:" in makefile


def test_every_function_builds_with_a_makefile_of_its_folder() -> None:
    # sam's python builder wants a local python3.13; a makefile build copies the folder
    for name, resource in raw_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        assert resource.get("Metadata") == {"BuildMethod": "makefile"}, name
        assert (ROOT / resource["Properties"]["CodeUri"] / "Makefile").exists(), name


def test_no_handler_response_in_traces() -> None:
    for name, properties in template.of_type("AWS::Lambda::Function"):
        variables = properties["Environment"]["Variables"]
        assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", name


@pytest.mark.parametrize("name", DEPLOY_SETTINGS)
def test_deploy_settings_have_no_default(name: str) -> None:
    parameter = parameters()[name]
    assert "Default" not in parameter
    assert parameter.get("AllowedPattern"), f"{name}: any string would pass"
    assert parameter.get("ConstraintDescription")


def full_match(pattern: str, value: str) -> bool:
    """CloudFormation matches AllowedPattern against the whole value."""
    return re.fullmatch(pattern, value) is not None


def test_the_provider_url_is_https_only() -> None:
    pattern = parameters()["PaymentProviderBaseUrl"]["AllowedPattern"]
    assert full_match(pattern, "https://api.provider.example")
    assert full_match(pattern, "https://api.provider.example:8443/v2")
    for refused in ("http://api.provider.example", "https://", "ftp://x.example", ""):
        assert not full_match(pattern, refused), refused


@pytest.mark.parametrize("name", ["NotificationSenderEmail", "OperatorAlertEmail"])
def test_addresses_must_look_like_addresses(name: str) -> None:
    pattern = parameters()[name]["AllowedPattern"]
    assert full_match(pattern, "orders@shop.example")
    for refused in ("orders", "orders@shop", "a b@shop.example", ""):
        assert not full_match(pattern, refused), refused


def test_no_secret_is_a_parameter() -> None:
    for name, parameter in parameters().items():
        assert not re.search(r"key|secret|password|token", name, re.IGNORECASE), name
        assert not parameter.get("NoEcho"), name


def test_the_provider_secret_is_created_empty() -> None:
    secret = raw_template()["Resources"]["PaymentProviderApiKeySecret"]["Properties"]
    assert "SecretString" not in secret
    assert "GenerateSecretString" not in secret


def test_a_stack_without_a_deploy_setting_is_refused_naming_it() -> None:
    # Given every setting but one (localcloud refuses as CloudFormation does)
    given = {
        "PaymentProviderBaseUrl": "https://api.provider.example",
        "NotificationSenderEmail": "orders@shop.example",
    }
    # When
    loaded = Template.load(TEMPLATE, given)
    # Then
    assert loaded.missing_parameters() == ["OperatorAlertEmail"]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_samconfig_carries_what_it_can(environment: str) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config[environment]["deploy"]["parameters"]
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"].split())
    assert set(overrides) <= set(parameters())
    assert overrides["Stage"] == environment
    # The account-specific settings are the operator's, given on the command line (README)
    assert not set(overrides) & set(DEPLOY_SETTINGS)
    assert deploy["capabilities"] == "CAPABILITY_IAM"


def test_the_runbook_names_outputs_and_parameters_the_template_has() -> None:
    readme = (ROOT / "README.md").read_text()
    runbook = readme[readme.index("## Deploying") :]
    outputs = set(raw_template()["Outputs"])
    named = set(re.findall(r"OutputKey=='(\w+)'", runbook)) | set(
        re.findall(r"\bout (\w+)\)", runbook)
    )
    assert {"PaymentProviderApiKeySecretArn", "ApiUrl", "UserPoolId"} <= named
    assert named <= outputs
    for name in DEPLOY_SETTINGS:
        assert f"{name}=" in runbook, name
    assert "put-secret-value" in runbook
