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
from pathlib import Path
from typing import Any

import pytest

from tests.support.localcloud_process import ROOT, RunningLocalCloud, localcloud_process

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-api-fuzz")]

CASES_PER_OPERATION = int(os.environ.get("API_FUZZ_CASES", "60"))
SEED = os.environ.get("API_FUZZ_SEED", "20261201")  # "random" for a new seed each run
MIN_CASES_PER_ROLE = 1000  # so `make test` sends at least 2,000 generated requests
RUN_TIMEOUT_SECONDS = 1800


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(tmp_path_factory.mktemp("api-fuzz")) as running:
        yield running


def schemathesis_run(cloud: RunningLocalCloud, token: str, report: Path) -> tuple[int, str]:
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
        "--workers",
        "2",
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
    result = subprocess.run(
        command,
        cwd=ROOT,  # schemathesis.toml
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def totals(report: dict[str, Any]) -> str:
    cases = report["test_cases"]
    return (
        f"{report['operations']['tested']} operations, {cases['generated']} cases, "
        f"{cases['with_failures']} with failures, {report['running_time']:.0f} s, "
        f"seed {report['seed']}"
    )


@pytest.mark.parametrize("role", ["customer", "admin"])
def test_every_operation_answers_as_documented(cloud: RunningLocalCloud, role: str) -> None:
    # Given a customer's or an admin's token (operations without security ignore it)
    token = cloud.token(f"fuzz-{role}", admin=role == "admin")
    report_path = cloud.log_path.with_name(f"schemathesis-{role}.json")

    # When Schemathesis sends its generated requests to every operation
    exit_code, output = schemathesis_run(cloud, token, report_path)

    # Then every answer passed every check, on every operation, over enough cases
    report = json.loads(report_path.read_text())
    summary = totals(report)
    sys.stdout.write(f"\nSchemathesis as {role}: {summary}\n")
    assert exit_code == 0, f"{summary}\n{output[-6000:]}"
    assert report["failures"] == [], summary
    assert report["errors"] == [], summary
    assert report["operations"]["tested"] == report["operations"]["total"], summary
    assert report["test_cases"]["generated"] >= MIN_CASES_PER_ROLE, summary
