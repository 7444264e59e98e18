"""DynamoDB and DynamoDB Streams served from a process of their own (`python -m
localcloud.dynamodb.service`, started by localcloud.dynamodb.process).

The process is an AWS endpoint like localcloud's main one (localcloud.endpoint.server: moto's
app, IAM's gate, fault rules, the billing meter) holding only moto's DynamoDB and Streams
backends, with localcloud's DynamoDB patches. It writes JSON lines to stdout: `{"ready":
{"port": ..., "pid": ...}}` when it serves, `{"log": <a record>}` for each log record (the
parent logs it as its own), `{"configured": <n>}` once it applied its n-th configuration
line. It reads its configuration from stdin, one JSON object a line, and ends when stdin
closes (the parent stopped, or died):

- `{"roles": "<base64 pickle of localcloud.iam.roles.Roles>"}`: from now on every call but the
  admin's is IAM's to allow, as on the main endpoint (the parent sends it before any role's
  credentials exist);
- `{"faults": "<url of the main endpoint>" | null}`: whether fault rules apply to DynamoDB; the
  rules, their random draws and their counts stay the parent's (localcloud.dynamodb.process).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import logging
import os
import pickle
import sys
import threading
from typing import IO, Any

from localcloud import heap
from localcloud.billing.meter import Meter
from localcloud.dynamodb import patches, streams
from localcloud.endpoint.proxy import KeptConnections
from localcloud.endpoint.server import AwsEndpoint
from localcloud.faults.api import FAULT_DRAW_PATH
from localcloud.faults.rules import FaultRegistry, FaultRule
from localcloud.iam.enforcer import Authorizer
from localcloud.iam.roles import Roles

log = logging.getLogger("localcloud.dynamodb")

# LogRecord attributes that are not a call's `extra`
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RemoteFaults(FaultRegistry):
    """The parent's fault rules, drawn by the parent (its one random sequence, its counts)
    while any applies to DynamoDB; none at all otherwise. It holds no rules of its own."""

    def __init__(self) -> None:
        super().__init__()
        self._connections: KeptConnections | None = None

    def point_at(self, url: str | None) -> None:
        self._connections = KeptConnections(url) if url else None

    def draw(
        self,
        service: str,
        operation: str | None = None,
        *,
        function: str | None = None,
        actions: set[str] | None = None,
    ) -> FaultRule | None:
        connections = self._connections
        if connections is None:
            return None
        body = json.dumps(
            {"service": service, "operation": operation, "actions": sorted(actions or ())}
        ).encode()
        try:
            status, _, _, content = connections.exchange(
                "POST", FAULT_DRAW_PATH, body, {"Content-Type": "application/json"}
            )
        except OSError as error:  # the parent is stopping
            log.warning("could not draw a fault rule: %s", error)
            return None
        rule = json.loads(content).get("rule") if status == 200 else None
        return FaultRule.model_validate(rule) if rule else None


class _LinesOut(logging.Handler):
    """Each record as one JSON line on `stream`, for the parent to log (`forwarded_record`)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line: dict[str, Any] = {
                "name": record.name,
                "levelno": record.levelno,
                "levelname": record.levelname,
                "msg": record.getMessage(),
                "created": record.created,
            }
            if record.exc_info:
                line["exc_text"] = logging.Formatter().formatException(record.exc_info)
            for key, value in vars(record).items():
                if key not in _RECORD_FIELDS and isinstance(value, str | int | float | bool):
                    line[key] = value
            _write_line(self._stream, {"log": line})
        except Exception:  # logging must not raise (logging.Handler's rule)
            self.handleError(record)


_out_lock = threading.Lock()


def _write_line(stream: IO[str], message: dict[str, Any]) -> None:
    with _out_lock:
        stream.write(json.dumps(message) + "\n")
        stream.flush()


def forwarded_record(fields: dict[str, Any]) -> logging.LogRecord:
    """The record a `_LinesOut` line's "log" stands for, to hand to the parent's logger."""
    return logging.makeLogRecord({**fields, "args": None})


class DynamoDbService:
    """The process's endpoint and what its parent configures of it."""

    def __init__(self, host: str) -> None:
        self.faults = RemoteFaults()
        self.authorizer: Authorizer | None = None
        self.endpoint = AwsEndpoint(
            runtime=None,
            status=self.status,
            faults=self.faults,
        )
        self.endpoint.meter = Meter(step_functions=False)
        self.endpoint.serve(host, 0)

    def status(self) -> dict[str, Any]:
        refusals = self.authorizer.refusals if self.authorizer else 0
        return {"ready": True, "pid": os.getpid(), "iamRefusals": refusals}

    def configure(self, line: str) -> None:
        message = json.loads(line)
        if "roles" in message:
            roles = pickle.loads(base64.b64decode(message["roles"]))  # the parent's, on stdin
            if not isinstance(roles, Roles):
                raise TypeError("roles: not localcloud's Roles")
            self.authorizer = Authorizer(roles)
            self.endpoint.authorize = self.authorizer.check
        if "faults" in message:
            self.faults.point_at(message["faults"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.dynamodb.service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    out = sys.stdout
    root = logging.getLogger()
    root.handlers[:] = [_LinesOut(out)]
    root.setLevel(args.log_level.upper())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per call otherwise

    patches.install()  # transactions, Query on a partition, items on the wire, ...
    streams.install()  # GetRecords without moto's model-driven serializer
    service = DynamoDbService(args.host)
    # as `localcloud run` does (localcloud.heap): what start-up made, and what each full
    # collection leaves (the tables' items, the streams' records), out of the collector's way
    gc.collect()
    gc.freeze()
    heap.freeze_survivors()
    _write_line(out, {"ready": {"port": service.endpoint.port, "pid": os.getpid()}})
    try:
        for number, line in enumerate(sys.stdin, start=1):
            service.configure(line)
            _write_line(out, {"configured": number})  # the parent waits for it
    finally:
        service.endpoint.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
