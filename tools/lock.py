"""requirements.lock from the environment the project is tested in.

    make lock        # after changing a pin in pyproject.toml and `make venv`

The lock is every distribution `shop-serverless[dev]` needs, directly or through another, at the
version installed in .venv (where `make test` and `make check` ran): the closure of the
project's requirements, each evaluated with its markers and the extras asked for, read from the
installed packages' metadata. Anything else installed by hand is left out, and a requirement
that is not installed is an error (run `make venv` first). `make venv` and the Lambda runtime's
venv install with `-c requirements.lock`, so what is locked is what runs; `make audit` checks
this file against the vulnerability database (docs/security.md).
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "shop-serverless"
HEADER = "# make lock (tools/lock.py): the closure of shop-serverless[dev] as installed in .venv\n"
# Left out as `pip freeze` leaves them out: the installer's own tools (the build backend's
# version is pyproject.toml's build-system requirement, not a pin here).
INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel", "distribute"})


class NotInstalled(Exception):
    """A requirement of the closure is not installed: the lock would be incomplete."""


def closure(project: str = PROJECT, extras: tuple[str, ...] = ("dev",)) -> dict[str, str]:
    """{distribution name: installed version} of everything `project[extras]` requires."""
    found: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(project, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, wanted = pending.pop()
        if (canonicalize_name(name), wanted) in seen:
            continue
        seen.add((canonicalize_name(name), wanted))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as error:
            raise NotInstalled(f"{name} is required but not installed: run `make venv`") from error
        canonical = canonicalize_name(name)
        if canonical != canonicalize_name(project) and canonical not in INSTALLER_TOOLS:
            found[distribution.metadata["Name"]] = distribution.version
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            # evaluated for this interpreter, with each extra asked for (or none)
            extras = (*wanted, "")
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in extras):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    return found


def render(pins: dict[str, str]) -> str:
    lines = [f"{name}=={version}" for name, version in sorted(pins.items(), key=_key)]
    return HEADER + "\n".join(lines) + "\n"


def _key(item: tuple[str, str]) -> str:
    return canonicalize_name(item[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--check", action="store_true", help="exit 1 when the lock differs")
    args = parser.parse_args(argv)
    text = render(closure())
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(
                f"{args.output.name} is not the installed closure: run `make lock`", file=sys.stderr
            )
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
