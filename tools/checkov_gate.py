"""checkov's findings against the committed baseline (checkov-baseline.toml).

`python -m tools.checkov_gate REPORT.json checkov-baseline.toml` exits 1 when checkov found
something the baseline does not accept (a new finding), or when the baseline accepts
something checkov no longer finds (a stale entry: take it out). Each accepted finding has a
one-line reason; `resources = ["*"]` accepts a check for every resource it applies to, for
reasons that hold for the whole resource type.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Accepted:
    check: str
    resources: tuple[str, ...]
    reason: str

    def covers(self, check: str, resource: str) -> bool:
        return check == self.check and ("*" in self.resources or resource in self.resources)


def load_baseline(path: Path) -> list[Accepted]:
    entries = tomllib.loads(path.read_text()).get("accepted", [])
    found = []
    for entry in entries:
        reason = str(entry.get("reason", "")).strip()
        if not reason or "\n" in reason:
            check = entry.get("check")
            raise ValueError(f"{check}: every accepted finding needs a one-line reason")
        found.append(Accepted(entry["check"], tuple(entry["resources"]), reason))
    return found


def findings(report: dict[str, Any] | list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(check id, logical id) of every failed check in checkov's JSON report."""
    reports = report if isinstance(report, list) else [report]
    return {
        (failed["check_id"], str(failed["resource"]).rsplit(".", 1)[-1])
        for one in reports
        for failed in one.get("results", {}).get("failed_checks", [])
    }


def judge(found: set[tuple[str, str]], baseline: list[Accepted]) -> list[str]:
    """What fails the gate: new findings and stale baseline entries."""
    problems = [
        f"new finding {check} on {resource}"
        for check, resource in sorted(found)
        if not any(a.covers(check, resource) for a in baseline)
    ]
    for accepted in baseline:
        if not any(accepted.covers(check, resource) for check, resource in found):
            problems.append(f"stale baseline entry {accepted.check} {list(accepted.resources)}")
            continue
        problems.extend(
            f"stale baseline entry {accepted.check} on {resource}"
            for resource in accepted.resources
            if resource != "*" and (accepted.check, resource) not in found
        )
    return problems


def main(argv: list[str]) -> int:
    report_path, baseline_path = argv
    report = json.loads(Path(report_path).read_text())
    found = findings(report)
    problems = judge(found, load_baseline(Path(baseline_path)))
    for problem in problems:
        sys.stderr.write(f"checkov: {problem}\n")
    if not problems:
        sys.stdout.write(f"checkov: {len(found)} findings, all accepted in {baseline_path}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
