"""AWS::Lambda::EventSourceMapping as Lambda's CreateEventSourceMapping accepts it.

Each mapping of the translated template becomes a `MappingSpec`, with Lambda's defaults and
its limits: a value Lambda refuses (a batch size past its maximum, a record age under a
minute, a stream-only setting on a queue, a queue whose visibility timeout is shorter than the
function's timeout, an invalid filter) stops localcloud at start with Lambda's reason, as the
deployment would stop on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.events.models import EventPattern

from localcloud.events.patterns import InvalidEventPattern, validate_event_pattern

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template

# Lambda's limits (CreateEventSourceMapping, AWS::Lambda::EventSourceMapping).
MAX_BATCH_SIZE = 10_000
MAX_BATCHING_WINDOW_SECONDS = 300
MAX_RETRY_ATTEMPTS = 10_000
MIN_RECORD_AGE_SECONDS = 60
MAX_RECORD_AGE_SECONDS = 604_800
MIN_MAXIMUM_CONCURRENCY = 2
MAX_MAXIMUM_CONCURRENCY = 1_000
SQS_RECEIVE_LIMIT = 10  # a bigger SQS batch needs a batching window
_STREAM_ONLY = (
    "StartingPosition",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)


class InvalidEventSourceMapping(ValueError):
    """What Lambda answers InvalidParameterValueException to, with the mapping's logical id."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: InvalidParameterValueException: {reason}")
        self.logical_id = logical_id
        self.reason = reason


@dataclass(frozen=True)
class MappingSpec:
    logical_id: str
    function: str
    source_arn: str
    batch_size: int
    batching_window_seconds: float
    report_item_failures: bool
    filters: tuple[EventPattern, ...]
    starting_position: str | None  # streams: TRIM_HORIZON or LATEST
    maximum_retry_attempts: int  # streams; -1 = until the record expires
    maximum_record_age_seconds: int  # streams; -1 = until the record expires
    bisect_on_error: bool  # streams: BisectBatchOnFunctionError
    on_failure_arn: str | None  # streams: DestinationConfig.OnFailure.Destination
    maximum_concurrency: int | None  # SQS: ScalingConfig.MaximumConcurrency

    @property
    def kind(self) -> str:
        return "sqs" if self.source_arn.startswith("arn:aws:sqs:") else "dynamodb"

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(p.matches_event(record) for p in self.filters)  # type: ignore[arg-type]


def mapping_specs(template: Template) -> list[MappingSpec]:
    specs = []
    for logical_id, raw in template.of_type("AWS::Lambda::EventSourceMapping"):
        properties = template.resolve(raw)
        if properties.get("Enabled", True) in (False, "false", "False"):
            continue
        specs.append(mapping_spec(logical_id, properties))
    return specs


def mapping_spec(logical_id: str, properties: dict[str, Any]) -> MappingSpec:
    """One mapping's properties, checked as CreateEventSourceMapping checks them."""

    def refuse(reason: str) -> InvalidEventSourceMapping:
        return InvalidEventSourceMapping(logical_id, reason)

    source_arn = str(properties["EventSourceArn"])
    is_queue = source_arn.startswith("arn:aws:sqs:")
    if not is_queue and not (":dynamodb:" in source_arn and "/stream/" in source_arn):
        raise refuse(f"localcloud runs SQS and DynamoDB stream sources, not {source_arn}")
    if is_queue:
        given = sorted(key for key in _STREAM_ONLY if key in properties)
        if given:
            raise refuse(f"Unsupported {', '.join(given)} for an Amazon SQS event source")
    elif "ScalingConfig" in properties:
        raise refuse("ScalingConfig is supported for Amazon SQS event sources only")
    elif int(properties.get("TumblingWindowInSeconds", 0) or 0) > 0:
        raise refuse("localcloud does not run tumbling windows (TumblingWindowInSeconds)")
    unknown = set(properties.get("FunctionResponseTypes", [])) - {"ReportBatchItemFailures"}
    if unknown:
        raise refuse(f"FunctionResponseTypes may only hold ReportBatchItemFailures, not {unknown}")

    batch_size = _int(properties, "BatchSize", 10 if is_queue else 100)
    window = _int(properties, "MaximumBatchingWindowInSeconds", 0)
    _check_batching(refuse, is_queue=is_queue, batch_size=batch_size, window=window)
    retries = _int(properties, "MaximumRetryAttempts", -1)
    age = _int(properties, "MaximumRecordAgeInSeconds", -1)
    starting_position = properties.get("StartingPosition")
    if not is_queue:
        _check_stream(refuse, retries=retries, age=age, starting_position=starting_position)
    concurrency = (properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if concurrency is not None:
        concurrency = int(concurrency)
        if not MIN_MAXIMUM_CONCURRENCY <= concurrency <= MAX_MAXIMUM_CONCURRENCY:
            raise refuse(f"MaximumConcurrency must be between 2 and 1000, not {concurrency}")
    on_failure = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
        "Destination"
    )
    if on_failure is not None:
        on_failure = str(on_failure)
        _check_destination(refuse, on_failure)

    return MappingSpec(
        logical_id=logical_id,
        function=str(properties["FunctionName"]).rsplit(":function:", 1)[-1],
        source_arn=source_arn,
        batch_size=batch_size,
        batching_window_seconds=float(window),
        report_item_failures="ReportBatchItemFailures"
        in properties.get("FunctionResponseTypes", []),
        filters=_filters(logical_id, properties),
        starting_position=None if is_queue else str(starting_position),
        maximum_retry_attempts=retries,
        maximum_record_age_seconds=age,
        bisect_on_error=str(properties.get("BisectBatchOnFunctionError", False)).lower() == "true",
        on_failure_arn=on_failure,
        maximum_concurrency=concurrency,
    )


def _check_batching(
    refuse: Callable[[str], InvalidEventSourceMapping],
    *,
    is_queue: bool,
    batch_size: int,
    window: int,
) -> None:
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise refuse(f"BatchSize must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}")
    if not 0 <= window <= MAX_BATCHING_WINDOW_SECONDS:
        raise refuse(f"MaximumBatchingWindowInSeconds must be between 0 and 300, not {window}")
    if is_queue and batch_size > SQS_RECEIVE_LIMIT and window < 1:
        raise refuse(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )


def _check_stream(
    refuse: Callable[[str], InvalidEventSourceMapping],
    *,
    retries: int,
    age: int,
    starting_position: Any,
) -> None:
    if not -1 <= retries <= MAX_RETRY_ATTEMPTS:
        raise refuse(f"MaximumRetryAttempts must be between -1 and 10000, not {retries}")
    if age != -1 and not MIN_RECORD_AGE_SECONDS <= age <= MAX_RECORD_AGE_SECONDS:
        raise refuse(f"MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, not {age}")
    if starting_position not in ("TRIM_HORIZON", "LATEST"):
        raise refuse("StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream")


def _check_destination(refuse: Callable[[str], InvalidEventSourceMapping], arn: str) -> None:
    if not arn.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
        raise refuse(
            f"localcloud delivers on-failure records to SQS queues and SNS topics, not {arn}"
        )
    if arn.endswith(".fifo"):
        raise refuse("FIFO queues and topics are not supported as on-failure destinations")


def check_visibility_timeout(
    spec: MappingSpec, visibility_timeout: float, function_timeout: float
) -> None:
    """Lambda refuses a queue whose messages would reappear while the function still runs."""
    if visibility_timeout < function_timeout:
        raise InvalidEventSourceMapping(
            spec.logical_id,
            f"Queue visibility timeout: {visibility_timeout:g} seconds is less than Function "
            f"timeout: {function_timeout:g} seconds",
        )


def _int(properties: dict[str, Any], key: str, default: int) -> int:
    return int(properties.get(key, default))


def _filters(logical_id: str, properties: dict[str, Any]) -> tuple[EventPattern, ...]:
    patterns = []
    for entry in (properties.get("FilterCriteria") or {}).get("Filters", []):
        raw = entry["Pattern"]
        text = raw if isinstance(raw, str) else json.dumps(raw)
        try:
            validate_event_pattern(json.loads(text))
        except (json.JSONDecodeError, InvalidEventPattern) as error:
            raise InvalidEventSourceMapping(
                logical_id, f"Invalid filter pattern definition. {error}"
            ) from None
        patterns.append(EventPattern.load(text))
    return tuple(patterns)
