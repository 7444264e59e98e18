"""Workers run what Lambda runs: the runtime's interpreter with awslambdaric and its own boto3,
the layer built from its requirements.txt (as sam build does), the function's code; not the
development venv."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambda_.environment import (
    REQUIREMENTS_FILE,
    RuntimeEnvironment,
    RuntimeEnvironmentMissing,
)
from localcloud.lambda_.runtime import LambdaRuntime
from localcloud.spec import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
SHARED_LAYER = ROOT / "layers" / "shared"

PROBES = """
import importlib.util
import sys


def describe(event, context):
    import boto3
    import pydantic
    import shop_shared

    return {
        "executable": sys.executable,
        "boto3": boto3.__version__,
        "boto3_file": boto3.__file__,
        "pydantic_file": pydantic.__file__,
        "shop_shared_file": shop_shared.__file__,
        "awscrt": importlib.util.find_spec("awscrt") is not None,
        "moto": importlib.util.find_spec("moto") is not None,
    }
"""

# PyJWT is in the development venv (localcloud's Cognito uses it), not in the shared layer.
NEEDS_JWT = "import jwt  # noqa: F401\n\n\ndef handler(event, context):\n    return 1\n"


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "environment_probe.py").write_text(textwrap.dedent(PROBES))
    (tmp_path / "needs_jwt.py").write_text(NEEDS_JWT)
    return tmp_path


def _spec(name: str, handler: str, code_dir: Path, layers: tuple[Path, ...]) -> FunctionSpec:
    return FunctionSpec(
        logical_id=name,
        handler=handler,
        code_dir=code_dir,
        layer_dirs=layers,
        timeout_seconds=10,
        memory_mb=128,
        environment={},
    )


@pytest.fixture
def runtime(code_dir: Path) -> Iterator[LambdaRuntime]:
    functions = {
        "ProbeFunction": _spec(
            "ProbeFunction", "environment_probe.describe", code_dir, (SHARED_LAYER,)
        ),
        "NeedsJwtFunction": _spec("NeedsJwtFunction", "needs_jwt.handler", code_dir, ()),
    }
    with LambdaRuntime(functions, {}) as runtime:
        yield runtime


def _call(runtime: LambdaRuntime, name: str) -> tuple[str | None, Any]:
    result = runtime.invoke(name, b"{}")
    return result.function_error, json.loads(result.payload)


def test_worker_runs_the_lambda_runtime_and_the_built_layer_not_the_dev_venv(
    runtime: LambdaRuntime,
) -> None:
    # When
    error, seen = _call(runtime, "ProbeFunction")
    # Then
    built = RuntimeEnvironment.default().root
    assert error is None, seen
    assert Path(seen["executable"]).parent == built / "venv" / "bin"
    assert f"boto3=={seen['boto3']}" in REQUIREMENTS_FILE.read_text()  # the runtime's pin
    assert Path(seen["boto3_file"]).is_relative_to(built / "venv")
    # the layer's dependencies from its build (pip install --target), its code from source
    assert Path(seen["pydantic_file"]).is_relative_to(built / "layers" / "shared" / "python")
    assert Path(seen["shop_shared_file"]).is_relative_to(SHARED_LAYER / "shop_shared")
    assert seen["awscrt"] is False  # the Lambda runtime does not ship it
    assert seen["moto"] is False  # nor anything else of the development venv


def test_an_import_missing_from_the_layer_fails_as_on_lambda(runtime: LambdaRuntime) -> None:
    # When a function imports a package that only the development venv has
    error, body = _call(runtime, "NeedsJwtFunction")
    # Then
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'jwt'" in body["errorMessage"]


def test_missing_runtime_environment_is_a_clear_error(code_dir: Path, tmp_path: Path) -> None:
    functions = {"F": _spec("F", "needs_jwt.handler", code_dir, ())}
    with pytest.raises(RuntimeEnvironmentMissing, match="make runtime"):
        LambdaRuntime(functions, {}, runtime_environment=RuntimeEnvironment(tmp_path / "none"))


def test_a_layer_built_from_other_requirements_is_refused(code_dir: Path, tmp_path: Path) -> None:
    # Given a layer whose requirements.txt differs from what the built copy was made from
    layer = tmp_path / "shared"
    layer.mkdir()
    (layer / "requirements.txt").write_text("pydantic==2.13.5\nrequests==2.32.0\n")
    functions = {"F": _spec("F", "needs_jwt.handler", code_dir, (layer,))}
    # When / Then
    with pytest.raises(RuntimeEnvironmentMissing, match=r"older requirements\.txt"):
        LambdaRuntime(functions, {})
