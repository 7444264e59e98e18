"""What a worker runs on: the Lambda runtime's software, not the development environment.

A Lambda function sees its own code (/var/task, from CodeUri), its layers (/opt/python, as
`sam build` builds them: `pip install -r requirements.txt --target <layer>/python`) and the
runtime (/var/runtime: the interpreter, awslambdaric, the runtime's own boto3 and botocore;
no awscrt). `make runtime` (a prerequisite of `make run` and `make test`) builds the same
here, under `.localcloud/lambda-runtime/` (the setting `LOCALCLOUD_LAMBDA_RUNTIME_DIR`):

    venv/                   python3.11 venv with runtime-requirements.txt only
    layers/<name>/python/   each layer's requirements.txt, installed with --target
    layers/<name>/requirements.txt   the copy it was built from (a stale build is refused)

Differences from AWS, on purpose: the interpreter is this machine's python3.11 (the only one
here; the template may say python3.13), and a layer's own source folder (its ContentUri, e.g.
layers/shared with shop_shared) goes on the path after its built dependencies, so an edit to
the layer's code needs no rebuild (sam build would copy it into python/).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localcloud.spec import REGION, FunctionSpec

RUNTIME_DIR_VARIABLE = "LOCALCLOUD_LAMBDA_RUNTIME_DIR"
# The project's checkout (localcloud is installed editable from it).
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNTIME_DIR = _PROJECT_ROOT / ".localcloud" / "lambda-runtime"
REQUIREMENTS_FILE = Path(__file__).with_name("runtime-requirements.txt")
_BUILD_HINT = "run `make runtime` (make run and make test do it)"


class RuntimeEnvironmentMissing(RuntimeError):
    """The Lambda runtime environment (or a layer's build) is missing or out of date."""


@dataclass(frozen=True)
class RuntimeEnvironment:
    """The built runtime: an interpreter with awslambdaric and boto3, and the built layers."""

    root: Path

    @classmethod
    def default(cls) -> RuntimeEnvironment:
        configured = os.environ.get(RUNTIME_DIR_VARIABLE)
        return cls(Path(configured) if configured else DEFAULT_RUNTIME_DIR)

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    def check(self) -> None:
        if not os.access(self.python, os.X_OK):
            raise RuntimeEnvironmentMissing(
                f"no Lambda runtime environment at {self.root} ({self.python} is missing): "
                f"{_BUILD_HINT}"
            )

    def layer_path(self, layer_dir: Path) -> list[Path]:
        """The import roots a layer adds (/opt/python): its built dependencies, then its
        own source folder."""
        requirements = layer_dir / "requirements.txt"
        if not requirements.is_file():
            return [layer_dir]
        built = self.root / "layers" / layer_dir.name
        built_from = built / "requirements.txt"
        if not (built / "python").is_dir() or not built_from.is_file():
            raise RuntimeEnvironmentMissing(
                f"layer {layer_dir} is not built (no {built / 'python'}): {_BUILD_HINT}"
            )
        if built_from.read_text() != requirements.read_text():
            raise RuntimeEnvironmentMissing(
                f"layer {layer_dir} was built from an older {requirements.name}: {_BUILD_HINT}"
            )
        return [built / "python", layer_dir]


def worker_environment(
    spec: FunctionSpec,
    base_environment: Mapping[str, str],
    runtime: RuntimeEnvironment,
) -> dict[str, str]:
    """The environment of the function's workers, as Lambda builds it (minus the per-worker
    AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_LOG_STREAM_NAME)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update({"TZ": ":UTC", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    env.update(base_environment)
    env.update(spec.environment)
    code_dir = str(spec.code_dir)
    layer_roots = [str(root) for layer in spec.layer_dirs for root in runtime.layer_path(layer)]
    env.update(  # reserved: Lambda sets these whatever the template says
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",  # the template's Runtime
            "LAMBDA_TASK_ROOT": code_dir,
            "LAMBDA_RUNTIME_DIR": str(runtime.root / "venv"),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([code_dir, *layer_roots]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
