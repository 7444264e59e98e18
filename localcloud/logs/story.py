"""One order's story: its log lines, bus events, saga and cancellation steps and emails, in time
order (what `localcloud logs --order` prints and /_localcloud/orders/<id>/story serves).

On AWS the same story is a CloudWatch Logs Insights query over the functions' log groups
(README, "One order's story"), the state machine's execution history and the bus's archive.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from localcloud.logs.journal import Journal, bus_events
from localcloud.logs.logbook import LogBook, iso

# (execution name -> [(state machine name, execution ARN, history events)]) for an order:
ExecutionHistories = Callable[[str], list[tuple[str, str, list[dict[str, Any]]]]]
SentEmails = Callable[[], list[dict[str, Any]]]


# The names the order's executions have (DESIGN §3: the saga is named after the order).
def execution_names(order_id: str) -> list[str]:
    return [order_id, f"cancel-{order_id}"]


def _epoch(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _state_name(event: dict[str, Any]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        if key in event:
            return str(event[key].get("name"))
    return None


def _execution_entry(machine: str, arn: str, event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event.get("type", ""))
    state = _state_name(event)
    failure = next(
        (value for key, value in event.items() if key.endswith("FailedEventDetails")), None
    )
    message = " ".join(part for part in (state, kind) if part)
    if isinstance(failure, dict) and failure.get("error"):
        message += f": {failure['error']}"
    level = "ERROR" if kind.endswith(("Failed", "TimedOut", "Aborted")) else "INFO"
    detail = {
        "executionArn": arn,
        "type": kind,
        "stateName": state,
        "event": {k: v for k, v in event.items() if k != "timestamp"},
    }
    return {
        "kind": "execution",
        "source": machine,
        "level": level,
        "message": message,
        "detail": detail,
        "epoch": _epoch(event["timestamp"]),
    }


def order_story(
    order_id: str,
    logbook: LogBook,
    histories: ExecutionHistories,
    sent_emails: SentEmails,
) -> dict[str, Any] | None:
    """The story, or None when nothing at all is known of the order."""
    lines = logbook.of_order(order_id)
    correlation_ids = {line.correlation_id for line in lines if line.correlation_id}
    trace_ids = sorted({line.trace_id for line in lines if line.trace_id})
    entries: list[dict[str, Any]] = [
        {
            "epoch": line.epoch,
            "kind": "log",
            "source": line.function,
            "level": line.level,
            "message": line.message,
            "detail": line.fields if line.fields is not None else {"line": line.text},
        }
        for line in lines
    ]
    for event in bus_events(order_id, correlation_ids):
        entries.append(
            {
                "epoch": event.epoch,
                "kind": "event",
                "source": f"EventBridge:{event.bus}",
                "level": "INFO",
                "message": f"{event.detail_type} from {event.source}",
                "detail": {
                    "source": event.source,
                    "detailType": event.detail_type,
                    "detail": event.detail,
                },
            }
        )
    for machine, arn, history in histories(order_id):
        entries.extend(_execution_entry(machine, arn, event) for event in history)
    for email in sent_emails():
        text = f"{email.get('subject') or ''}\n{email.get('body') or ''}"
        if order_id not in text:
            continue
        epoch = Journal.email_times.get(str(email.get("id")))
        if epoch is None:
            continue
        entries.append(
            {
                "epoch": epoch,
                "kind": "email",
                "source": "SES",
                "level": "INFO",
                "message": f"email to {', '.join(_addresses(email))}: {email.get('subject')}",
                "detail": email,
            }
        )
    if not entries:
        return None
    entries.sort(key=lambda entry: entry["epoch"])
    for entry in entries:
        entry["time"] = iso(entry["epoch"])
    return {
        "orderId": order_id,
        "correlationIds": sorted(correlation_ids),
        "traceIds": trace_ids,
        "entries": entries,
    }


def _addresses(email: dict[str, Any]) -> list[str]:
    destinations = email.get("destinations") or {}
    if isinstance(destinations, dict):
        return [address for values in destinations.values() for address in values]
    return [str(destinations)]
