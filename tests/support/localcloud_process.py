"""Start localcloud the way `make run` does (its CLI, in its own process) on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from localcloud.awsclients import AwsClients
from localcloud.cognito.tokens import issue_id_token

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60


@dataclass
class RunningLocalCloud:
    api_url: str
    aws_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @cached_property
    def aws(self) -> AwsClients:
        return AwsClients(self.aws_url)

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.aws_url}/_localcloud/status", timeout=10) as r:
            return json.loads(r.read())

    def sent_emails(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.aws_url}/_localcloud/ses/messages", timeout=10) as r:
            return json.loads(r.read())["messages"]

    def sns_messages(self) -> list[dict[str, Any]]:
        """What SNS delivered to email and HTTP subscriptions (SQS ones are in their queues)."""
        with urllib.request.urlopen(f"{self.aws_url}/_localcloud/sns/messages", timeout=10) as r:
            return json.loads(r.read())["messages"]

    def token(self, username: str, *, admin: bool = False) -> str:
        pool = self.status()["userPools"][0]
        return issue_id_token(
            self.aws.cognito, pool["id"], pool["tokenClientId"], username, admin=admin
        )

    def physical(self, logical_id: str) -> str:
        """A function's environment names resources; tables and queues keep their logical id."""
        return logical_id

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def localcloud_process(
    tmp_dir: Path,
    template: Path = ROOT / "template.yaml",
    overrides: dict[str, str] | None = None,
    payment_provider_api_key: str | None = None,
    alarm_period_scale: float | None = None,
    *,
    express_max_duration: float | None = None,
    faults: Path | None = None,
    faults_seed: int | None = None,
    waf_window_scale: float | None = None,
) -> Iterator[RunningLocalCloud]:
    ready_file = tmp_dir / "ready.json"
    log_path = tmp_dir / "localcloud.log"
    command = [
        sys.executable,
        "-m",
        "localcloud",
        "run",
        "--template",
        str(template),
        "--api-port",
        "0",
        "--aws-port",
        "0",
        "--provider-port",
        "0",
        "--xray-port",
        "0",
        "--logs-dir",
        str(tmp_dir / "logs"),
        "--ready-file",
        str(ready_file),
    ]
    if overrides:
        command += ["--parameter-overrides", *(f"{k}={v}" for k, v in overrides.items())]
    if alarm_period_scale is not None:  # shorter CloudWatch periods, so alarms fire in seconds
        command += ["--alarm-period-scale", str(alarm_period_scale)]
    if express_max_duration is not None:  # a shorter EXPRESS cap, so it is reached in seconds
        command += ["--express-max-duration", str(express_max_duration)]
    if waf_window_scale is not None:  # shorter WAF rate windows, so a block ends in seconds
        command += ["--waf-window-scale", str(waf_window_scale)]
    if faults is not None:  # fault rules from the start (localcloud/faults)
        command += ["--faults", str(faults)]
    if faults_seed is not None:
        command += ["--faults-seed", str(faults_seed)]
    if payment_provider_api_key is not None:  # into the provider's secret, as an operator would
        command += ["--payment-provider-api-key", payment_provider_api_key]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"localcloud did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        urls = json.loads(ready_file.read_text())
        yield RunningLocalCloud(urls["apiUrl"], urls["awsUrl"], process, log_path)
    finally:
        stop(process)


# A stopping localcloud takes seconds (its pollers end their long polls, its workers exit) and
# needs none of the tests' attention: the next test starts while it winds down, and
# `wait_until_stopped` (the session's end) waits for the last of them.
STOP_TIMEOUT_SECONDS = 20
_stopping: list[threading.Thread] = []


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM now; wait for the exit (or kill after STOP_TIMEOUT_SECONDS) in the background."""
    process.terminate()
    reaper = threading.Thread(target=_reap, args=(process,), name=f"reap-{process.pid}")
    reaper.start()
    _stopping.append(reaper)


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_stopped() -> None:
    """Every localcloud these tests started has exited."""
    while _stopping:
        _stopping.pop().join()
