"""`python -m tools.event_schemas [--check]` (`make schemas`): regenerate the event schemas
under schemas/events/ and the README's "Events" table; `--check` only reports what is stale
and exits 1 if anything is."""

from __future__ import annotations

import argparse
import sys

from tools.event_schemas.catalog import CatalogError
from tools.event_schemas.generate import ROOT, apply, check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.event_schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report stale files, change none")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(ROOT)
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1 if problems else 0
        changes = apply(ROOT)
    except CatalogError as error:
        print(error, file=sys.stderr)
        return 2
    for change in changes or ["event schemas and the README's Events table are up to date"]:
        print(change)
    return 0


if __name__ == "__main__":
    sys.exit(main())
