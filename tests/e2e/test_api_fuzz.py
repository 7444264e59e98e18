"""Property-based tests of the whole API (issue 11): Schemathesis generates requests for every
operation of the served `/v1/openapi.json` and checks each answer against the document: no 5xx,
the status, content type, headers and body as documented, schema-valid data accepted and
invalid data refused (schemathesis.toml: every check, except the one API Gateway can't pass).

It runs against a localcloud of its own, once with a customer's token and once with an admin's,
with Schemathesis' own runner (`st run`: its coverage phase, then `API_FUZZ_CASES` generated
cases per operation; `make test` 60 with a fixed seed, `make fuzz` 1000 with a random one). The
JSON report of each run is kept beside the localcloud's log; its totals are the test's output.

Schemathesis' pytest plugin is not used: with pytest 9 it fails at collection
(`'Function' object has no attribute '_nodeid'`, schemathesis 4.32.5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.localcloud_process import ROOT, RunningLocalCloud, localcloud_process
from tests.support.shop import ROOMY_CLIENT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-api-fuzz")]

CASES_PER_OPERATION = int(os.environ.get("API_FUZZ_CASES", "60"))
SEED = os.environ.get("API_FUZZ_SEED", "20261201")  # "random" for a new seed each run
MIN_CASES_PER_ROLE = 1000  # so `make test` sends at least 2,000 generated requests
RUN_TIMEOUT_SECONDS = 1800
ROLES = ("customer", "admin")
# Two runs at full speed exceed the stage's throttle (100/s, burst 200), the web ACL's limit per
# IP and the orders per customer, and a 429 or WAF's 403 is not what the checks of a request
# are about (each limit has its own tests).
ROOMY_LIMITS = {
    "ApiThrottlingRateLimit": "100000",
    "ApiThrottlingBurstLimit": "100000",
    **ROOMY_CLIENT_LIMITS,
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(tmp_path_factory.mktemp("api-fuzz"), overrides=ROOMY_LIMITS) as running:
        yield running


def schemathesis_command(cloud: RunningLocalCloud, token: str, report: Path) -> list[str]:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    command = [
        st,
        "run",
        f"{cloud.api_url}/openapi.json",
        "--url",
        cloud.api_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(CASES_PER_OPERATION),
        # One worker per run, the two roles' runs side by side: Schemathesis' worker threads
        # compile lambdas concurrently, which CPython 3.11's ast.parse is not safe for
        # ("SystemError: AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    return command


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str
    report: dict[str, Any]


@pytest.fixture(scope="module")
def runs(cloud: RunningLocalCloud) -> dict[str, Run]:
    """Schemathesis as a customer and as an admin (operations without security ignore the
    token), both at once against the same localcloud."""
    started = {}
    for role in ROLES:
        token = cloud.token(f"fuzz-{role}", admin=role == "admin")
        report = cloud.log_path.with_name(f"schemathesis-{role}.json")
        output = cloud.log_path.with_name(f"schemathesis-{role}.txt")
        with output.open("w") as sink:
            process = subprocess.Popen(
                schemathesis_command(cloud, token, report),
                cwd=ROOT,  # schemathesis.toml
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started[role] = (process, report, output)
    finished = {}
    for role, (process, report, output) in started.items():
        exit_code = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        finished[role] = Run(exit_code, output.read_text(), json.loads(report.read_text()))
    return finished


def totals(report: dict[str, Any]) -> str:
    cases = report["test_cases"]
    return (
        f"{report['operations']['tested']} operations, {cases['generated']} cases, "
        f"{cases['with_failures']} with failures, {report['running_time']:.0f} s, "
        f"seed {report['seed']}"
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(runs: dict[str, Run], role: str) -> None:
    # Given Schemathesis' requests to every operation, with the role's token
    run = runs[role]
    summary = totals(run.report)
    sys.stdout.write(f"\nSchemathesis as {role}: {summary}\n")

    # Then every answer passed every check, on every operation, over enough cases
    assert run.exit_code == 0, f"{summary}\n{run.output[-6000:]}"
    assert run.report["failures"] == [], summary
    assert run.report["errors"] == [], summary
    assert run.report["operations"]["tested"] == run.report["operations"]["total"], summary
    assert run.report["test_cases"]["generated"] >= MIN_CASES_PER_ROLE, summary
