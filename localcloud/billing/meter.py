"""Counts every billable operation of a localcloud run, in the units AWS bills.

Fed from the places that already see the calls, and wired by the facade:

- the AWS endpoint (`wrap`): every AWS API request, identified by localcloud.endpoint.calls;
  DynamoDB's read and write request units from each request, the items it touched before and
  after (read from moto's tables under the endpoint's DynamoDB lock) and the answer; SQS
  requests and EventBridge PutEvents entries in 64 KB chunks; SES messages per recipient;
- the Lambda runtime (a RuntimeObserver): requests, billed milliseconds (init included, as
  Lambda bills the init phase of managed runtimes since August 2025), log bytes and EMF metrics;
- the API gateway (`api_request`): REST API requests;
- moto's Step Functions executions (`snapshot`): STANDARD state transitions from each
  execution's history, EXPRESS requests, duration and logged bytes.

The meter counts; it does not price (bench/prices.json and bench/pricing.py do). `reset()`
starts a new count (a benchmark resets after seeding its catalog).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from localcloud.billing import units
from localcloud.endpoint.calls import AwsCall, peek_body
from localcloud.spec import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template
    from localcloud.lambda_.runtime import InvokeResult

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# CloudWatch Logs counts 26 bytes of overhead per log event (PutLogEvents' batch size).
LOG_EVENT_OVERHEAD_BYTES = 26
# Modelled, not measured: Lambda's own START, END and REPORT lines of each invocation
# (about 60, 45 and 190 bytes with X-Ray's trace id), which a worker here does not print.
LAMBDA_PLATFORM_LOG_BYTES = 295
LAMBDA_PLATFORM_LOG_EVENTS = 3

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_SQS_PAYLOAD_OPERATIONS = {"SendMessage", "SendMessageBatch"}
_SES_SENDS = {"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail"}


@dataclass(frozen=True)
class _Index:
    """A global secondary index: its key attributes and what it projects."""

    keys: list[str]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: list[str]


@dataclass
class _Table:
    """What the meter needs of a table: its keys, its GSIs and whether it has a stream."""

    hash_key: str
    range_key: str | None
    indexes: dict[str, _Index]
    stream: bool

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        names = [self.hash_key, *([self.range_key] if self.range_key else [])]
        return {name: item[name] for name in names if name in item}

    def table_keys(self) -> list[str]:
        return [self.hash_key, *([self.range_key] if self.range_key else [])]


@dataclass
class _DynamoDbCounts:
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: float = 0.0
    stream_records: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    failed_writes: int = 0


class Meter:
    """Thread-safe counters of one localcloud process."""

    def __init__(self, *, step_functions: bool = True) -> None:
        """`step_functions`: count moto's Step Functions executions (False in a process that
        serves none: localcloud.dynamodb.service, which would import them to find none)."""
        self._step_functions = step_functions
        self._lock = threading.Lock()
        self._functions: dict[str, dict[str, Any]] = {}
        self._stream_consumers: set[str] = set()
        self._seen_executions: set[str] = set()
        self._tables: dict[str, _Table] = {}
        self._reset_counts()

    # ------------------------------------------------------------------ setup
    def configure(self, template: Template) -> None:
        """Each function's memory, architecture and whether an event source invokes it."""
        for logical_id, properties in template.of_type("AWS::Lambda::Function"):
            architectures = template.resolve(properties.get("Architectures", ["x86_64"]))
            self._functions[logical_id] = {
                "memoryMb": int(properties.get("MemorySize", 128)),
                "architecture": architectures[0] if architectures else "x86_64",
            }
        for _, mapping in template.of_type("AWS::Lambda::EventSourceMapping"):
            function = mapping.get("FunctionName")
            if isinstance(function, dict) and "Ref" in function:
                self._stream_consumers.add(function["Ref"])

    def _reset_counts(self) -> None:
        self._calls: Counter[str] = Counter()
        # Made by a function's SDK; the others are localcloud's own (its pollers, CloudWatch)
        # or a client's: what AWS bills of those is counted apart (SQS) or not at all.
        self._function_calls: Counter[str] = Counter()
        self._dynamodb: defaultdict[str, _DynamoDbCounts] = defaultdict(_DynamoDbCounts)
        self._sqs_requests = 0
        self._sqs_empty_receives = 0
        self._event_entries = 0
        self._event_chunks = 0
        self._ses_messages = 0
        self._api_requests: Counter[int] = Counter()
        self._lambda: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._log_bytes: Counter[str] = Counter()
        self._metrics: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        self._emf_lines = 0

    def reset(self) -> None:
        """Start counting again; executions started before are left out of the next count."""
        with self._lock:
            self._reset_counts()
            if self._step_functions:
                self._seen_executions = {arn for arn, _ in _executions()}

    # ------------------------------------------------------------------ the AWS endpoint
    def wrap(self, call: AwsCall, app: WsgiApp) -> WsgiApp:
        """`app` (moto), counting what this call is billed for."""
        if call.service == "dynamodb" and call.operation:
            return self._dynamodb_app(call.operation, app)

        def metered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            body = peek_body(environ) if _needs_body(call) else b""
            statuses: list[str] = []

            def starting(status: str, *args: Any) -> Any:
                statuses.append(status)
                return start_response(status, *args)

            answer = app(environ, starting)
            answered = b""
            if call.service == "sqs" and call.operation == "ReceiveMessage":
                answer = list(answer)
                answered = b"".join(answer)
            ok = bool(statuses) and statuses[0][:1] == "2"
            self._count_call(call, body, answered, ok, from_function=_from_a_function(environ))
            return answer

        return metered

    def _count_call(
        self, call: AwsCall, body: bytes, answered: bytes, ok: bool, *, from_function: bool
    ) -> None:
        with self._lock:
            self._calls[call.name] += 1
            self._function_calls[call.name] += from_function
            if call.service == "sqs":
                self._count_sqs(call.operation or "", body, answered, ok)
            elif call.service == "events" and call.operation == "PutEvents" and ok:
                entries = _json(body).get("Entries") or []
                self._event_entries += len(entries)
                self._event_chunks += sum(
                    units.chunks_64kb(units.put_events_entry_size(e)) for e in entries
                )
            elif call.service == "ses" and call.operation in _SES_SENDS and ok:
                self._ses_messages += _ses_recipients(body)

    def _count_sqs(self, operation: str, body: bytes, answered: bytes, ok: bool) -> None:
        """Every SQS request is billed, each 64 KB chunk of its payload as one request.
        Receives that return nothing are counted apart: they are the pollers' idle traffic (a
        cost per hour of the queue, not per order, and localcloud polls unlike Lambda)."""
        if operation == "ReceiveMessage":
            messages = _json(answered).get("Messages") or []
            if not messages:
                self._sqs_empty_receives += 1
                return
            size = sum(
                units.sqs_message_size(m.get("Body", ""), m.get("MessageAttributes"))
                for m in messages
            )
            self._sqs_requests += units.chunks_64kb(size)
            return
        if operation in _SQS_PAYLOAD_OPERATIONS and ok:
            request = _json(body)
            entries = request.get("Entries") or [request]
            size = sum(
                units.sqs_message_size(e.get("MessageBody", ""), e.get("MessageAttributes"))
                for e in entries
            )
            self._sqs_requests += units.chunks_64kb(size)
            return
        self._sqs_requests += 1

    # ------------------------------------------------------------------ DynamoDB
    def _dynamodb_app(self, operation: str, app: WsgiApp) -> WsgiApp:
        def metered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            request = _json(peek_body(environ))
            writes = self._write_targets(operation, request)
            before = [self._stored(table, key) for table, key, _ in writes]
            statuses: list[str] = []

            def starting(status: str, *args: Any) -> Any:
                statuses.append(status)
                return start_response(status, *args)

            answer = list(app(environ, starting))
            ok = bool(statuses) and statuses[0][:1] == "2"
            response = _json(b"".join(answer)) if ok else {}
            after = [self._stored(table, key) for table, key, _ in writes] if ok else before
            with self._lock:
                self._calls[f"dynamodb:{operation}"] += 1
                self._count_reads(operation, request, response, ok)
                error = b"".join(answer) if not ok else b""
                self._count_writes(operation, writes, before, after, ok=ok, error=error)
            return answer

        return metered

    def _write_targets(
        self, operation: str, request: Mapping[str, Any]
    ) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, kind) of each item a write request touches."""
        targets: list[tuple[str, dict[str, Any], str]] = []

        def add(table_name: str, body: Mapping[str, Any], kind: str) -> None:
            table = self._table(table_name)
            if table is None:
                return
            key = body.get("Key") or table.key_of(body.get("Item") or {})
            targets.append((table_name, dict(key), kind))

        if operation in _WRITES:
            add(request.get("TableName", ""), request, operation)
        elif operation == "BatchWriteItem":
            for table_name, requests in (request.get("RequestItems") or {}).items():
                for entry in requests:
                    if "PutRequest" in entry:
                        add(table_name, entry["PutRequest"], "PutItem")
                    elif "DeleteRequest" in entry:
                        add(table_name, entry["DeleteRequest"], "DeleteItem")
        elif operation == "TransactWriteItems":
            for entry in request.get("TransactItems") or []:
                for kind, body in entry.items():
                    add(body.get("TableName", ""), body, kind)
        return targets

    def _count_writes(
        self,
        operation: str,
        writes: list[tuple[str, dict[str, Any], str]],
        before: list[dict[str, Any] | None],
        after: list[dict[str, Any] | None],
        *,
        ok: bool,
        error: bytes,
    ) -> None:
        """A write consumes units for the larger of the item before and after; a conditional
        write that fails still consumes them (for the item as it is), as does each item of a
        cancelled transaction (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
        transaction-apis.html#transaction-capacity-handling). Other errors consume nothing."""
        transactional = operation == "TransactWriteItems"
        if not ok:
            conditional = b"ConditionalCheckFailed" in error or b"TransactionCanceled" in error
            if not conditional:
                return
        for (table_name, _, kind), old, new in zip(writes, before, after, strict=True):
            counts = self._dynamodb[table_name]
            size = max(units.item_size(old), units.item_size(new))
            counts.write_units += units.write_units(size, transactional=transactional)
            if not ok:
                counts.failed_writes += 1
                continue
            if kind == "ConditionCheck" or old == new:
                continue
            table = self._tables[table_name]
            counts.stream_records += table.stream
            for index in table.indexes.values():
                counts.index_write_units += _index_write_units(table, index, old, new)

    def _count_reads(
        self, operation: str, request: Mapping[str, Any], response: Mapping[str, Any], ok: bool
    ) -> None:
        consistent = bool(request.get("ConsistentRead"))
        if operation == "GetItem" and ok:
            size = units.item_size(response.get("Item"))
            self._dynamodb[request.get("TableName", "")].read_units += units.read_units(
                size, consistent=consistent
            )
        elif operation in ("Query", "Scan") and ok:
            items = response.get("Items") or []
            returned = sum(units.item_size(item) for item in items)
            # Units are for the items read before any filter: the filtered-out ones are
            # counted at the mean size of those returned (an estimate; 0 when none returned).
            scanned = int(response.get("ScannedCount", len(items)))
            read_bytes = returned * scanned / len(items) if items else 0.0
            index = request.get("IndexName")
            self._dynamodb[request.get("TableName", "")].read_units += units.read_units(
                round(read_bytes), consistent=consistent and index is None
            )
        elif operation == "BatchGetItem" and ok:
            asked = request.get("RequestItems") or {}
            for table_name, items in (response.get("Responses") or {}).items():
                consistent = bool((asked.get(table_name) or {}).get("ConsistentRead"))
                self._dynamodb[table_name].read_units += units.batch_read_units(
                    (units.item_size(item) for item in items), consistent=consistent
                )
        elif operation == "TransactGetItems" and ok:
            for entry, answer in zip(
                request.get("TransactItems") or [], response.get("Responses") or [], strict=False
            ):
                table_name = (entry.get("Get") or {}).get("TableName", "")
                self._dynamodb[table_name].read_units += units.read_units(
                    units.item_size(answer.get("Item")), transactional=True
                )

    def _table(self, name: str) -> _Table | None:
        if name not in self._tables:
            table = _moto_table(name)
            if table is None:
                return None
            self._tables[name] = table
        return self._tables[name]

    def _stored(self, table_name: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return _moto_item(table_name, key)

    # ------------------------------------------------------------------ Lambda (observer)
    def invoked(self, function: str, result: InvokeResult) -> None:
        ran_ms = result.run_ms if result.run_ms is not None else result.duration_ms
        with self._lock:
            counts = self._lambda[function]
            counts["requests"] += 1
            counts["billedMs"] += units.lambda_billed_ms(ran_ms)
            counts["coldStarts"] += result.cold_start
            self._log_bytes["lambdaPlatform"] += LAMBDA_PLATFORM_LOG_BYTES + (
                LAMBDA_PLATFORM_LOG_EVENTS * LOG_EVENT_OVERHEAD_BYTES
            )

    def throttled(self, function: str) -> None:
        """A throttled invocation is not billed."""

    def output(self, function: str, line: str) -> None:
        size = len(line.encode("utf-8")) + LOG_EVENT_OVERHEAD_BYTES
        metrics = _emf_metrics(line) if '"_aws"' in line else []
        with self._lock:
            self._log_bytes["lambda"] += size
            if metrics:
                self._emf_lines += 1
                self._metrics.update(metrics)

    # ------------------------------------------------------------------ API Gateway
    def api_request(self, status: int, latency_ms: float) -> None:
        with self._lock:
            self._api_requests[status] += 1

    # ------------------------------------------------------------------ the count
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            seen = set(self._seen_executions)
            dynamodb = {
                name: {
                    "readUnits": round(c.read_units, 1),
                    "writeUnits": c.write_units,
                    "indexWriteUnits": c.index_write_units,
                    "streamRecords": c.stream_records,
                    "failedWrites": c.failed_writes,
                }
                for name, c in sorted(self._dynamodb.items())
            }
            functions = {
                name: {**self._functions.get(name, {}), **counts}
                for name, counts in sorted(self._lambda.items())
            }
            event_source_invocations = sum(
                counts["requests"]
                for name, counts in self._lambda.items()
                if name in self._stream_consumers
            )
            body: dict[str, Any] = {
                "apiGateway": {
                    "requests": sum(self._api_requests.values()),
                    "byStatus": {str(k): v for k, v in sorted(self._api_requests.items())},
                },
                "lambda": functions,
                "dynamodb": dynamodb,
                "dynamodbStreams": {
                    "getRecordsRequests": self._calls["dynamodbstreams:GetRecords"],
                    "note": "GetRecords by Lambda event source mappings is free",
                },
                "sqs": {
                    "requests": self._sqs_requests,
                    "emptyReceives": self._sqs_empty_receives,
                },
                "eventBridge": {"entries": self._event_entries, "events64KB": self._event_chunks},
                "ses": {"messages": self._ses_messages},
                "cloudWatch": {
                    "logBytes": dict(self._log_bytes),
                    "emfLines": self._emf_lines,
                    "customMetrics": len(self._metrics),
                },
                "xray": {
                    # Modelled: a trace per API request and per event-source batch (a stream
                    # or queue starts a new trace); every one sampled, an upper bound.
                    "traces": sum(self._api_requests.values()) + event_source_invocations,
                },
                "calls": dict(sorted(self._calls.items())),
                "functionCalls": {k: v for k, v in sorted(self._function_calls.items()) if v},
            }
        if not self._step_functions:
            return body
        body["stepFunctions"] = _step_functions(seen)
        log_bytes = body["cloudWatch"]["logBytes"]
        log_bytes["stepFunctions"] = body["stepFunctions"]["loggedBytes"]
        return body


def merge_snapshot(body: dict[str, Any], served_elsewhere: Mapping[str, Any]) -> None:
    """Add to `body` (a snapshot) what the meter of another localcloud process counted: the
    services it serves (DynamoDB and its Streams, localcloud.dynamodb.process), whose calls
    this process's meter never sees."""
    for part in ("calls", "functionCalls"):
        merged = Counter(body[part]) + Counter(served_elsewhere[part])
        body[part] = dict(sorted(merged.items()))
    body["dynamodb"] = {**body["dynamodb"], **served_elsewhere["dynamodb"]}
    body["dynamodbStreams"]["getRecordsRequests"] += served_elsewhere["dynamodbStreams"][
        "getRecordsRequests"
    ]


# ---------------------------------------------------------------------- helpers


def _from_a_function(environ: Mapping[str, Any]) -> bool:
    """Sent by a Lambda function's SDK (botocore puts AWS_EXECUTION_ENV in the User-Agent)."""
    return "exec-env/AWS_Lambda_" in str(environ.get("HTTP_USER_AGENT", ""))


def _needs_body(call: AwsCall) -> bool:
    return (
        (call.service == "sqs" and call.operation in _SQS_PAYLOAD_OPERATIONS)
        or (call.service == "events" and call.operation == "PutEvents")
        or (call.service == "ses" and call.operation in _SES_SENDS)
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ses_recipients(body: bytes) -> int:
    """SES bills each recipient of a message as one message (query protocol form body)."""
    form = parse_qs(body.decode("utf-8", "replace"))
    recipients = sum(
        len(values)
        for name, values in form.items()
        if ".member." in name and ("Addresses" in name or name.startswith("Destinations"))
    )
    return max(1, recipients)


def _projected(
    table: _Table, index: _Index, item: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The item as the index stores it; None when the item is not in the index (sparse)."""
    if not item or any(name not in item for name in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    included = index.included if index.projection == "INCLUDE" else []
    names = {*table.table_keys(), *index.keys, *included}
    return {name: value for name, value in item.items() if name in names}


def _index_write_units(
    table: _Table, index: _Index, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> int:
    """A GSI's writes for one table write: a put when the item enters it, a delete when it
    leaves, both when its index key changes, an update when a projected attribute changes
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html
    #GSI.ThroughputConsiderations.Writes)."""
    was = _projected(table, index, old)
    now = _projected(table, index, new)
    if was == now:
        return 0
    if was is None or now is None:
        return units.write_units(units.item_size(was or now))
    if any(was.get(name) != now.get(name) for name in index.keys):
        return units.write_units(units.item_size(was)) + units.write_units(units.item_size(now))
    return units.write_units(max(units.item_size(was), units.item_size(now)))


def _emf_metrics(line: str) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The custom metrics (namespace, name, dimension values) one EMF log line defines."""
    try:
        document = json.loads(line[line.index("{") :])
    except ValueError:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("_aws"), dict):
        return []
    metrics = []
    for directive in document["_aws"].get("CloudWatchMetrics") or []:
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = tuple((name, str(document.get(name, ""))) for name in dimension_set)
            for metric in directive.get("Metrics") or []:
                metrics.append((directive.get("Namespace", ""), metric.get("Name", ""), dimensions))
    return metrics


# ---------------------------------------------------------------------- moto's state


def _moto_table(name: str) -> _Table | None:
    from moto.dynamodb.models import dynamodb_backends

    try:
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(name)
    except Exception:  # moto's ResourceNotFoundException: the call fails, nothing to count
        return None
    indexes = {
        index.name: _Index(
            [key["AttributeName"] for key in index.schema],
            (index.projection or {}).get("ProjectionType", "ALL"),
            list((index.projection or {}).get("NonKeyAttributes", [])),
        )
        for index in table.global_indexes
    }
    stream = bool((table.stream_specification or {}).get("StreamEnabled"))
    return _Table(table.hash_key_attr, table.range_key_attr, indexes, stream)


def _moto_item(table_name: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored item's attributes in DynamoDB's wire form, as GetItem answers them (a blob
    base64-encoded): written by localcloud.dynamodb.serializer's `wire_form` from what moto's
    `Item.to_json` gives (new dicts and lists, nothing shared with the stored item), with no
    JSON round trip (22 of 40 us per call, and this runs before and after every write). A
    value moto holds in another type (`wire_form` gives None) is copied through JSON as
    before."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    from localcloud.dynamodb.serializer import wire_form

    try:
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
        hash_value = key.get(table.hash_key_attr)
        if hash_value is None:
            return None
        range_value = key.get(table.range_key_attr) if table.range_key_attr else None
        item = table.get_item(
            DynamoType(hash_value), DynamoType(range_value) if range_value else None
        )
    except Exception:  # an invalid key: moto answers the call with its error
        return None
    if item is None:
        return None
    held = item.to_json()["Attributes"]
    attributes = {name: wire_form(value) for name, value in held.items()}
    if any(value is None for value in attributes.values()):
        return dict(json.loads(json.dumps(held)))
    return attributes


def _executions() -> list[tuple[str, Any]]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return [
        (execution.execution_arn, execution)
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
    ]


def _step_functions(seen: set[str]) -> dict[str, Any]:
    """STANDARD state transitions (each state entered, and each retry of a task) and EXPRESS
    requests, billed duration and logged bytes (Level ALL: every history event), from the
    executions started since the last reset."""
    counts: Counter[str] = Counter()
    logged = 0
    for arn, execution in _executions():
        if arn in seen:
            continue
        events = _history(execution)
        express = str(getattr(execution, "sm_type", "")).endswith("EXPRESS")
        if express:
            counts["expressRequests"] += 1
            stop, start = execution.stop_date, execution.start_date
            if stop is not None and start is not None:
                duration_ms = (stop - start).total_seconds() * 1000
                counts["expressBilledMs"] += units.express_billed_ms(duration_ms)
            logged += sum(
                len(json.dumps(event, default=str)) + LOG_EVENT_OVERHEAD_BYTES for event in events
            )
            continue
        counts["standardExecutions"] += 1
        counts["standardTransitions"] += _transitions(events)
        logged += sum(
            len(json.dumps(event, default=str)) + LOG_EVENT_OVERHEAD_BYTES
            for event in events
            if str(event.get("type", "")).endswith(("Failed", "TimedOut", "Aborted"))
        )
    return {
        "standardExecutions": counts["standardExecutions"],
        "standardTransitions": counts["standardTransitions"],
        "expressRequests": counts["expressRequests"],
        "expressBilledMs": counts["expressBilledMs"],
        "expressMemoryMb": units.express_memory_mb(0),
        "loggedBytes": logged,
    }


def _history(execution: Any) -> list[dict[str, Any]]:
    worker = getattr(execution, "exec_worker", None)
    if worker is None or getattr(worker, "env", None) is None:
        return []
    events: list[dict[str, Any]] = execution.to_history_output().get("events", [])
    return events


def _transitions(events: list[dict[str, Any]]) -> int:
    """State transitions of one STANDARD execution: every state entered, plus every retry
    (a task scheduled again within the state it entered)."""
    entered = 0
    scheduled_in_state = 0
    retries = 0
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            entered += 1
            scheduled_in_state = 0
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            scheduled_in_state += 1
            retries += scheduled_in_state > 1
    return entered + retries
