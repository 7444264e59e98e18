"""Where a benchmark ran: the machine and the commit, written beside every result."""

from __future__ import annotations

import os
import platform
import subprocess

from tests.support.localcloud_process import ROOT


def machine() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{platform.machine()} {python}, {os.cpu_count()} cores"


def commit() -> str:
    """HEAD's short hash ("unknown" outside a git checkout)."""
    answer = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return answer.stdout.strip() or "unknown"
