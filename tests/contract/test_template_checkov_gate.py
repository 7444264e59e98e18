"""The checkov gate of `make check`: a finding the baseline does not accept fails it, and so
does an accepted finding checkov no longer reports (the baseline stays true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.checkov_gate import Accepted, findings, judge, load_baseline

BASELINE = Path(__file__).resolve().parents[2] / "checkov-baseline.toml"


def report(*failed: tuple[str, str]) -> dict[str, object]:
    return {
        "results": {
            "failed_checks": [
                {"check_id": check, "resource": f"AWS::SQS::Queue.{resource}"}
                for check, resource in failed
            ]
        }
    }


def test_accepted_findings_pass() -> None:
    baseline = [
        Accepted("CKV_AWS_27", ("*",), "SSE-SQS"),
        Accepted("CKV_AWS_120", ("Apiv1Stage",), "per caller"),
    ]
    found = findings(
        report(("CKV_AWS_27", "A"), ("CKV_AWS_27", "B"), ("CKV_AWS_120", "Apiv1Stage"))
    )
    assert judge(found, baseline) == []


def test_a_new_finding_fails() -> None:
    baseline = [Accepted("CKV_AWS_120", ("Apiv1Stage",), "per caller")]
    found = findings(report(("CKV_AWS_120", "Apiv1Stage"), ("CKV_AWS_28", "NewTable")))
    assert judge(found, baseline) == ["new finding CKV_AWS_28 on NewTable"]


def test_a_stale_entry_fails() -> None:
    baseline = [Accepted("CKV_AWS_28", ("OldTable", "Other"), "reason")]
    found = findings(report(("CKV_AWS_28", "Other")))
    assert judge(found, baseline) == ["stale baseline entry CKV_AWS_28 on OldTable"]


def test_the_committed_baseline_gives_a_one_line_reason_for_each_entry() -> None:
    entries = load_baseline(BASELINE)
    assert entries
    assert all(entry.reason and "\n" not in entry.reason for entry in entries)


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.toml"
    path.write_text('[[accepted]]\ncheck = "CKV_AWS_1"\nresources = ["*"]\nreason = ""\n')
    with pytest.raises(ValueError, match="one-line reason"):
        load_baseline(path)
