"""Every line the functions print: one file per function, and a bounded in-memory index.

CloudWatch Logs keeps a log group per function; here each function's lines go to
`<logs dir>/<Function>.log` (what `localcloud logs` reads) and into a ring of recent lines that
the story and the console search by the fields Powertools' Logger puts on every JSON line
(`correlation_id`, `order_id`, `xray_trace_id`, `level`, `message`).
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.lambda_.runtime import InvokeResult

MAX_LINES = 100_000  # the in-memory ring; the files keep everything


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class LogLine:
    epoch: float
    function: str
    text: str
    fields: dict[str, Any] | None  # the JSON line, when it is one

    @property
    def level(self) -> str:
        if self.fields is not None and isinstance(self.fields.get("level"), str):
            return str(self.fields["level"])
        return "ERROR" if self.text.startswith("[ERROR]") else "INFO"

    @property
    def message(self) -> str:
        if self.fields is not None and "message" in self.fields:
            message = self.fields["message"]
            return message if isinstance(message, str) else json.dumps(message)
        return self.text.splitlines()[0] if self.text else ""

    def field(self, *names: str) -> str | None:
        if self.fields is None:
            return None
        for name in names:
            value = self.fields.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def order_id(self) -> str | None:
        return self.field("order_id", "orderId")

    @property
    def correlation_id(self) -> str | None:
        return self.field("correlation_id", "correlationId")

    @property
    def trace_id(self) -> str | None:
        header = self.field("xray_trace_id")
        if header and header.startswith("Root="):
            return header.split(";", 1)[0][len("Root=") :]
        return header

    @property
    def is_metrics(self) -> bool:
        """An embedded-metric-format line (CloudWatch turns it into metrics)."""
        return self.fields is not None and "_aws" in self.fields

    def as_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "time": iso(self.epoch),
            "function": self.function,
            "level": self.level,
            "message": self.message,
            "orderId": self.order_id,
            "correlationId": self.correlation_id,
            "traceId": self.trace_id,
            "line": self.text,
            "json": self.fields,
        }


def parse(function: str, text: str, epoch: float | None = None) -> LogLine:
    fields: dict[str, Any] | None = None
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            fields = loaded
    return LogLine(epoch if epoch is not None else time.time(), function, text, fields)


class LogBook:
    """A RuntimeObserver (localcloud.lambda_.runtime): told every line a worker prints."""

    def __init__(self, directory: Path | None, max_lines: int = MAX_LINES) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._files: dict[str, IO[str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Any] = []

    def add_listener(self, listener: Any) -> None:
        """Called with each LogLine (the terminal feed)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # RuntimeObserver
    def output(self, function: str, line: str) -> None:
        entry = parse(function, line)
        with self._lock:
            self._lines.append(entry)
            handle = self._file(function)
            if handle is not None:
                # CloudWatch Logs' shape: each event with its time (microseconds: lines of two
                # functions in one millisecond still sort right); a multi-line record's
                # continuation lines are indented (`localcloud logs` joins them back).
                stamp = datetime.datetime.fromtimestamp(entry.epoch, datetime.UTC).isoformat(
                    timespec="microseconds"
                )
                handle.write(f"{stamp} " + line.replace("\n", "\n\t") + "\n")
                handle.flush()
        for listener in self._listeners:
            listener(entry)

    def invoked(self, function: str, result: InvokeResult) -> None:
        return

    def throttled(self, function: str) -> None:
        return

    def _file(self, function: str) -> IO[str] | None:
        if self.directory is None:
            return None
        handle = self._files.get(function)
        if handle is None:
            handle = self._files[function] = (self.directory / f"{function}.log").open(
                "a", encoding="utf-8"
            )
        return handle

    def lines(
        self, *, function: str | None = None, order_id: str | None = None, limit: int = 200
    ) -> list[LogLine]:
        with self._lock:
            lines = list(self._lines)
        if function is not None:
            lines = [line for line in lines if line.function == function]
        if order_id is not None:
            lines = self.of_order(order_id, lines)
        return lines[-limit:] if limit else lines

    def of_order(self, order_id: str, lines: list[LogLine] | None = None) -> list[LogLine]:
        """The order's lines: those naming it, and those of the same correlation ids (the
        request's lines before the order had an id)."""
        if lines is None:
            with self._lock:
                lines = list(self._lines)
        lines = [line for line in lines if not line.is_metrics]
        correlation_ids = {
            line.correlation_id
            for line in lines
            if line.correlation_id and (line.order_id == order_id or order_id in line.text)
        }
        return [
            line
            for line in lines
            if line.order_id == order_id
            or order_id in line.text
            or (line.correlation_id is not None and line.correlation_id in correlation_ids)
        ]

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()
