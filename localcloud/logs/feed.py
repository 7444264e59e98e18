"""The terminal `make run` shows: a compact live feed, while the full logs go to files.

One line per thing a person watching wants to see: each order's status change (from the
order events on the bus), each alarm's state change, every error line a function writes (with
the function and the order id), and localcloud's own warnings. Everything else (each
function's lines, localcloud's and moto's info) is in `<logs dir>/<Function>.log` and
`<logs dir>/localcloud.log`, read with `localcloud logs`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from localcloud.awsclients import AwsClients
from localcloud.logs.journal import BusEvent, Journal
from localcloud.logs.logbook import LogBook, LogLine

# moto's Step Functions interpreter logs an ERROR for every JSONPath it evaluates that is absent,
# even where that is the question asked (a Choice's `IsPresent: false`, as the cancellation's
# `$.compensationErrors` on every successful cancellation). A path that really fails a state
# becomes a States.Runtime failure in the execution's history; the log record adds nothing.
_MOTO_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"

# The status each of the orders service's events leaves an order in (functions/orders/orders/
# models.py, OrderStatus); an event not listed here leaves the status as it was.
ORDER_STATUS_AFTER = {
    "OrderPlaced": "PENDING",
    "OrderConfirmed": "CONFIRMED",
    "OrderRejected": "REJECTED",
    "OrderCancellationRequested": "CANCELLING",
    "OrderCancelled": "CANCELLED",
    "OrderNeedsAttention": "NEEDS_ATTENTION",
}


class _AbsentPathNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "Exception=NoSuchJsonPathError" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_moto() -> None:
    """Demote moto's absent-JSONPath errors to DEBUG (once)."""
    logger = logging.getLogger(_MOTO_EVAL_LOGGER)
    if not any(isinstance(f, _AbsentPathNoise) for f in logger.filters):
        logger.addFilter(_AbsentPathNoise())


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _short(order_id: str | None) -> str:
    return order_id or "-"


def order_line(event: BusEvent) -> str | None:
    """`12:00:01  order <id>  CONFIRMED` for an order's status change; None for other events."""
    status = ORDER_STATUS_AFTER.get(event.detail_type)
    if status is None:
        return None
    detail = event.detail if isinstance(event.detail, dict) else {}
    data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
    assert isinstance(data, dict)
    order_id = data.get("orderId")
    reason = data.get("reason")
    suffix = f"  ({reason})" if isinstance(reason, str) and reason else ""
    return f"{_clock(event.epoch)}  order {_short(order_id)}  {status}{suffix}"


def business_errors(definitions: Iterable[str]) -> set[str]:
    """The errors the state machines treat as business outcomes: those a Retrier names with
    MaxAttempts 0 (no retry; DESIGN: business errors do not retry, transient ones do)."""
    names: set[str] = set()
    for definition in definitions:
        try:
            document = json.loads(definition)
        except ValueError:
            continue
        stack = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for retrier in node.get("Retry") or []:
                    if isinstance(retrier, dict) and retrier.get("MaxAttempts") == 0:
                        names.update(str(name) for name in retrier.get("ErrorEquals") or [])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return {name for name in names if not name.startswith("States.")}


def _runtime_error_type(text: str) -> str | None:
    """`PaymentDeclined` of the runtime's record `[ERROR] PaymentDeclined: ...`."""
    if not text.startswith("[ERROR] "):
        return None
    return text[len("[ERROR] ") :].split(":", 1)[0].strip() or None


def error_line(line: LogLine, expected: frozenset[str] = frozenset()) -> str | None:
    """A function's error line, with the function and the order it concerns; None for other
    lines, and for a task's business outcome (`expected`): its order's status line says it."""
    if line.is_metrics or line.level not in {"ERROR", "CRITICAL"}:
        return None
    message = line.message
    if line.fields is None:  # the runtime's own record: "[ERROR] Type: message" + traceback
        if _runtime_error_type(line.text) in expected:
            return None
        message = line.text.splitlines()[0]
    return f"{_clock(line.epoch)}  ERROR  {line.function}  order {_short(line.order_id)}  {message}"


class _FeedHandler(logging.Handler):
    """localcloud's alarm changes and warnings, one line each."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(level=logging.INFO)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        alarm = record.name == "localcloud.cloudwatch.alarms"
        if not alarm and record.levelno < logging.WARNING:
            return
        kind = "ALARM" if alarm else record.levelname
        context = "".join(
            f"  {name}={value}"
            for name in ("function", "function_error", "order_id")
            if (value := record.__dict__.get(name)) is not None
        )
        self._write(f"{_clock(record.created)}  {kind}  {record.getMessage()}{context}")


class Feed:
    """Writes the feed's lines (to stdout by default), from the log book, the bus journal
    and localcloud's loggers."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.expected_errors: frozenset[str] = frozenset()  # business outcomes (see above)
        self._lock = threading.Lock()
        self._out = write or _stdout
        self._handler = _FeedHandler(self.write)

    def write(self, text: str) -> None:
        with self._lock:
            self._out(text)

    def attach(self, logbook: LogBook) -> None:
        logbook.add_listener(self._on_line)
        Journal.listeners.append(self._on_event)
        logging.getLogger("localcloud").addHandler(self._handler)
        alarms = logging.getLogger("localcloud.cloudwatch.alarms")
        if not alarms.isEnabledFor(logging.INFO):  # an alarm's return to OK is news too
            alarms.setLevel(logging.INFO)

    def detach(self, logbook: LogBook) -> None:
        logbook.remove_listener(self._on_line)
        if self._on_event in Journal.listeners:
            Journal.listeners.remove(self._on_event)
        logging.getLogger("localcloud").removeHandler(self._handler)

    def learn_business_errors(self, aws_url: str) -> None:
        """Read the state machines' business errors from Step Functions."""
        sfn = AwsClients(aws_url, in_process=True).stepfunctions
        definitions = [
            sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
            for machine in sfn.list_state_machines()["stateMachines"]
        ]
        self.expected_errors = frozenset(business_errors(definitions))

    def _on_line(self, line: LogLine) -> None:
        text = error_line(line, self.expected_errors)
        if text is not None:
            self.write(text)

    def _on_event(self, event: BusEvent) -> None:
        text = order_line(event)
        if text is not None:
            self.write(text)


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def log_to_file(path: Path, level: str) -> None:
    """All of localcloud's and moto's logging into `path`, none on the terminal; the functions'
    own lines are in their files already (localcloud.lambda stops there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    functions = logging.getLogger("localcloud.lambda")
    functions.propagate = False
    functions.addHandler(logging.NullHandler())
