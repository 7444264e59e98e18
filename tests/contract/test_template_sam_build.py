"""`sam build` here (Python 3.11, no Docker) builds what Lambda's python3.13 on arm64 runs.

Slow (30 to 60 s: pip fetches the layer's wheels for the target), so it is marked
`sam_build`: `make test` runs it, `make test-fast` does not.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.template import ROOT, TEMPLATE, loaded_template, raw_template

pytestmark = [pytest.mark.sam_build, pytest.mark.xdist_group("sam-build")]

EM_AARCH64 = 183  # ELF e_machine of arm64 shared objects
SAM = Path(sys.executable).with_name("sam")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Given this machine's Python (3.11 here) and the template's python3.13 on arm64
    out = tmp_path_factory.mktemp("sam")
    # When sam builds the whole template into a temporary folder
    result = subprocess.run(
        [
            str(SAM),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(out / "build"),
            "--cache-dir",
            str(out / "cache"),
            "--region",
            "us-east-1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
    return out / "build"


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int(struct.unpack("<H", header[18:20])[0])


def test_the_layer_holds_cp313_aarch64_pydantic_core(build_dir: Path) -> None:
    # Then the layer's pydantic_core is the CPython 3.13 arm64 build
    python = build_dir / "SharedLayer" / "python"
    (core,) = (python / "pydantic_core").glob("_pydantic_core.*.so")
    assert core.name == "_pydantic_core.cpython-313-aarch64-linux-gnu.so"
    assert elf_machine(core) == EM_AARCH64
    assert (python / "shop_shared" / "__init__.py").exists()


def test_every_compiled_module_of_the_layer_is_for_arm64_and_cp313(build_dir: Path) -> None:
    shared_objects = list((build_dir / "SharedLayer").rglob("*.so"))
    assert shared_objects  # pydantic_core and wrapt at least
    for so in shared_objects:
        assert elf_machine(so) == EM_AARCH64, so
        assert "x86_64" not in so.name, so
        assert "cpython-311" not in so.name, so


def test_every_function_is_built_with_its_handler_module(build_dir: Path) -> None:
    template = loaded_template()
    functions = dict(template.of_type("AWS::Lambda::Function"))
    assert len(functions) >= 30
    for name, properties in functions.items():
        module = properties["Handler"].rsplit(".", 1)[0].replace(".", "/")
        folder = build_dir / name
        assert (folder / f"{module}.py").exists() or module.startswith("shop_shared/"), name
        assert not (folder / "Makefile").exists(), f"{name}: the build copied its Makefile"
        assert not list(folder.rglob("__pycache__")), name


def test_the_built_template_keeps_the_runtime_and_architecture(build_dir: Path) -> None:
    built = (build_dir / "template.yaml").read_text()
    globals_ = raw_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert "Runtime: python3.13" in built
    assert "python3.11" not in built
