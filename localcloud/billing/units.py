"""The units AWS bills in, computed as AWS documents them (pure functions, no state).

- DynamoDB item size: attribute names plus values; numbers take 1 byte per two significant
  digits plus 1; null and Boolean 1 byte; a List or Map 3 bytes plus 1 per element
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
- DynamoDB capacity: a write unit per 1 KB of the larger of the item before and after, a
  read unit per 4 KB (half for an eventually consistent read), both doubled in a transaction;
  a Query or Scan rounds the sum of the items it read once, a BatchGetItem rounds each item
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
- EventBridge PutEvents entry size: Time 14 bytes, Source, DetailType, Detail and each of the
  Resources their UTF-8 bytes; each 64 KB chunk of an entry is billed as one event
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html,
  https://aws.amazon.com/eventbridge/pricing/).
- SQS: each 64 KB chunk of a request's payload is one request (https://aws.amazon.com/sqs/pricing/).
- Lambda: duration is billed per 1 ms, rounded up, at the function's memory
  (https://aws.amazon.com/lambda/pricing/).
- Step Functions Express: duration billed in 100 ms steps at 64 MB steps of memory
  (https://aws.amazon.com/step-functions/pricing/).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

KB = 1024
CHUNK_64KB = 64 * KB


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """A DynamoDB number: 1 byte per two significant digits (leading and trailing zeros
    trimmed), plus 1 byte."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _utf8(text)
    digits = value.as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON wire form ({"S": "..."}, ...)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return _utf8(content)
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(member) for member in content)
    if kind == "NS":
        return sum(number_size(member) for member in content)
    if kind == "BS":
        return sum(len(base64.b64decode(member)) for member in content)
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in content)
    if kind == "M":
        return 3 + sum(1 + _utf8(name) + value_size(member) for name, member in content.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes of an item (attribute name -> wire value); 0 for no item."""
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def write_units(size_bytes: int, *, transactional: bool = False) -> int:
    """Write request units of one item write: 1 per KB, at least 1; twice in a transaction."""
    units = max(1, math.ceil(size_bytes / KB))
    return units * 2 if transactional else units


def read_units(size_bytes: int, *, consistent: bool = False, transactional: bool = False) -> float:
    """Read request units of reading `size_bytes` (one item, or a Query's sum): 1 per 4 KB,
    at least one unit; half when eventually consistent, twice in a transaction."""
    units = max(1, math.ceil(size_bytes / (4 * KB)))
    if transactional:
        return float(units * 2)
    return float(units) if consistent else units / 2


def batch_read_units(sizes: Iterable[int], *, consistent: bool = False) -> float:
    """BatchGetItem: each item rounded up to 4 KB on its own, then added."""
    return sum(read_units(size, consistent=consistent) for size in sizes)


def chunks_64kb(size_bytes: int) -> int:
    """How many 64 KB chunks a payload is billed as (at least 1)."""
    return max(1, math.ceil(size_bytes / CHUNK_64KB))


def put_events_entry_size(entry: Mapping[str, Any]) -> int:
    """The size EventBridge computes for one PutEventsRequestEntry."""
    size = 14 if entry.get("Time") is not None else 0
    size += _utf8(str(entry.get("Source", ""))) + _utf8(str(entry.get("DetailType", "")))
    if entry.get("Detail") is not None:
        size += _utf8(str(entry["Detail"]))
    for resource in entry.get("Resources") or []:
        if resource is not None:
            size += _utf8(str(resource))
    return size


def sqs_message_size(body: str, attributes: Mapping[str, Any] | None = None) -> int:
    """An SQS message's payload: its body plus each attribute's name, type and value."""
    size = _utf8(body)
    for name, attribute in (attributes or {}).items():
        size += _utf8(name) + _utf8(str(attribute.get("DataType", "")))
        if "StringValue" in attribute:
            size += _utf8(str(attribute["StringValue"]))
        if "BinaryValue" in attribute:
            size += len(base64.b64decode(attribute["BinaryValue"]))
    return size


def lambda_billed_ms(duration_ms: float) -> int:
    """Lambda bills duration per 1 ms, rounded up (at least 1 ms)."""
    return max(1, math.ceil(duration_ms))


def gb_seconds(billed_ms: float, memory_mb: int) -> float:
    """GB-seconds of `billed_ms` at `memory_mb` (Lambda counts 1 GB as 1024 MB)."""
    return billed_ms / 1000 * memory_mb / 1024


def express_billed_ms(duration_ms: float) -> int:
    """Step Functions Express: duration rounded up to the next 100 ms."""
    return max(100, math.ceil(duration_ms / 100) * 100)


def express_memory_mb(state_bytes: int) -> int:
    """Express memory in 64 MB steps (the definition and payloads; ours fit the first)."""
    return max(64, math.ceil(state_bytes / (64 * KB * KB)) * 64)
