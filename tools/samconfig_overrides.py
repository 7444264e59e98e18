"""The parameter_overrides samconfig.toml gives an environment, one KEY=VALUE per word.

`sam deploy --parameter-overrides ...` on the command line replaces samconfig's list instead
of adding to it, so `make deploy` passes this list plus the operator's settings.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def overrides(environment: str, config: Path = ROOT / "samconfig.toml") -> str:
    parameters = tomllib.loads(config.read_text())[environment]["deploy"]["parameters"]
    return str(parameters["parameter_overrides"])


def main(argv: list[str]) -> int:
    (environment,) = argv
    sys.stdout.write(overrides(environment) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
