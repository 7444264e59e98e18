"""requirements.lock is what the project is tested with (issue 11: keep the lock current)."""

from __future__ import annotations

from packaging.utils import canonicalize_name

from tools.lock import ROOT, closure, render


def test_the_lock_is_the_installed_closure_of_the_project() -> None:
    # Given the environment the tests run in (installed with -c requirements.lock)
    # When the closure of shop-serverless[dev] is read from its metadata
    # Then the committed lock is exactly it: nothing missing, nothing stale
    committed = (ROOT / "requirements.lock").read_text()
    assert committed == render(closure()), "run `make lock` and commit requirements.lock"


def test_the_closure_holds_what_the_layer_and_the_runtime_install() -> None:
    pins = {canonicalize_name(name): version for name, version in closure().items()}
    for requirements in (
        "layers/shared/requirements.txt",
        "localcloud/lambda_/runtime-requirements.txt",
    ):
        for line in (ROOT / requirements).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, version = line.split("==")
                assert pins[canonicalize_name(name.split("[")[0])] == version.strip(), line
