"""DynamoDB in a process of its own: starting it, configuring it, stopping it.

Why: localcloud's main process serves every AWS service, the API gateway, Step Functions,
the Lambda runtime API and the pollers under one GIL, and in a burst of orders that GIL was
the limit (one core, with a thread waiting 4-6 ms on average to run). DynamoDB is about 25 of
the 35 AWS calls an order makes; served by a second process (localcloud.dynamodb.service), it
runs on the other core.

What stays as on AWS: the functions call DynamoDB's endpoint (`AWS_ENDPOINT_URL_DYNAMODB`,
which botocore reads, as a VPC endpoint or a FIPS endpoint would be configured), and any
client that knows only the AWS endpoint reaches DynamoDB through it (localcloud.endpoint.proxy
forwards the request unchanged). Each request is judged there as on the main endpoint: IAM's
gate with the template's roles (sent once provisioning made them), the fault rules (drawn by
this process's registry, so a seed gives one sequence and GET /_localcloud/faults counts
every fault), the billing meter (merged into /_localcloud/billing). The service's log
records come back here and are logged as this process's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from localcloud.dynamodb.service import forwarded_record

if TYPE_CHECKING:
    from localcloud.iam.roles import Roles

log = logging.getLogger("localcloud.dynamodb")

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 5.0
# The services the process answers (endpoint prefixes, as localcloud.endpoint.calls names them)
SERVICES = ("dynamodb", "dynamodbstreams")
# LOCALCLOUD_DYNAMODB_PROCESS=0 keeps DynamoDB in the main process (for comparison).
SETTING = "LOCALCLOUD_DYNAMODB_PROCESS"


def started(host: str) -> DynamoDbProcess | None:
    """DynamoDB's process, started (None when the setting keeps DynamoDB in this one)."""
    if os.environ.get(SETTING, "1") == "0":
        return None
    process = DynamoDbProcess(host)
    process.start()
    return process


class DynamoDbProcess:
    """`start()` it early (its imports take a second), `wait_ready()` before the first call."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._process: subprocess.Popen[str] | None = None
        self._port: int | None = None
        self.pid: int | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._sent = 0  # configuration lines written, and ...
        self._configured = threading.Condition()
        self._applied = 0  # ... applied by the process
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcloud.dynamodb.service",
                "--host",
                self.host,
                "--log-level",
                str(level),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # its own session: a Ctrl-C at the terminal is for localcloud, which stops it
            start_new_session=True,
        )
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), name="dynamodb-out", daemon=True
        )
        self._reader.start()

    def wait_ready(self) -> str:
        """The process's endpoint URL, once it serves; RuntimeError if it never does."""
        if not self._ready.wait(START_TIMEOUT_SECONDS) or self._port is None:
            raise RuntimeError("DynamoDB's process did not start (see the log above)")
        return self.url

    @property
    def url(self) -> str:
        assert self._port is not None, "wait_ready() first"
        return f"http://{self.host}:{self._port}"

    def _read(self, stdout: IO[str]) -> None:
        """Where it serves, its log records, and what configuration it applied."""
        for line in stdout:
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("DynamoDB's process: %s", line.rstrip())
                continue
            if "log" in message:
                record = forwarded_record(message["log"])
                logging.getLogger(record.name).handle(record)
            elif "ready" in message:
                self._port, self.pid = int(message["ready"]["port"]), int(message["ready"]["pid"])
                self._ready.set()
            elif "configured" in message:
                with self._configured:
                    self._applied = int(message["configured"])
                    self._configured.notify_all()
        self._ready.set()  # ended: wait_ready stops waiting, and so does _send
        with self._configured:
            self._applied = sys.maxsize
            self._configured.notify_all()

    def use_roles(self, roles: Roles) -> None:
        """IAM's gate from now on, with the template's roles."""
        self._send({"roles": base64.b64encode(pickle.dumps(roles)).decode("ascii")})

    def draw_faults_from(self, url: str | None) -> None:
        """Fault rules apply to DynamoDB: draw them at `url` (the main endpoint); None: none
        does."""
        self._send({"faults": url})

    def _send(self, message: dict[str, Any]) -> None:
        """Configure the process, and return once it applies it (a call made next is judged
        with it)."""
        process = self._process
        if process is None or process.stdin is None:
            return
        with self._lock:
            try:
                process.stdin.write(json.dumps(message) + "\n")
                process.stdin.flush()
            except OSError as error:  # it ended (its log says why)
                log.warning("could not configure DynamoDB's process: %s", error)
                return
            self._sent += 1
            sent = self._sent
        with self._configured:
            if not self._configured.wait_for(lambda: self._applied >= sent, START_TIMEOUT_SECONDS):
                raise RuntimeError("DynamoDB's process did not apply its configuration")

    def close(self) -> None:
        process = self._process
        if process is None:
            return
        with self._lock:
            if process.stdin is not None:
                with contextlib.suppress(OSError):  # gone already
                    process.stdin.close()  # its signal to stop
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_SECONDS)
