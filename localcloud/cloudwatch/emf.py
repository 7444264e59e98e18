"""The embedded metric format (EMF): metrics a function prints as JSON log lines.

Powertools Metrics (and any EMF library) prints one JSON object per flush:
`{"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace": ..., "Dimensions": [[...]],
"Metrics": [{"Name": ..., "Unit": ...}]}]}, "<dimension>": "...", "<metric>": <number|[numbers]>}`.
CloudWatch Logs extracts a datapoint per metric and dimension set; this does the same with each
line a worker writes. A line that is not EMF, or an EMF line that is malformed, gives nothing
(CloudWatch also drops an invalid EMF document and keeps the log line).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from localcloud.cloudwatch.metrics import Datum

_MARKER = '"_aws"'


def datums_of_line(line: str) -> list[Datum]:
    """The metric datapoints an EMF log line carries (none for any other line)."""
    text = line.strip()
    if not text.startswith("{") or _MARKER not in text:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    return list(_datums(document))


def _datums(document: Mapping[str, Any]) -> Iterator[Datum]:
    metadata = document.get("_aws")
    if not isinstance(metadata, dict):
        return
    timestamp = _timestamp(metadata.get("Timestamp"))
    directives = metadata.get("CloudWatchMetrics")
    if timestamp is None or not isinstance(directives, list):
        return
    for directive in directives:
        if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
            continue
        dimension_sets = directive.get("Dimensions", [[]])
        metrics = directive.get("Metrics", [])
        if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
            continue
        for dimension_names in dimension_sets:
            dimensions = _dimensions(document, dimension_names)
            if dimensions is None:
                continue
            for metric in metrics:
                datum = _datum(document, directive["Namespace"], metric, dimensions, timestamp)
                if datum is not None:
                    yield datum


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def _dimensions(document: Mapping[str, Any], names: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(names, list) or len(names) > 30:
        return None
    dimensions = []
    for name in names:
        value = document.get(name) if isinstance(name, str) else None
        if not isinstance(value, str):
            return None  # a dimension must be a string member of the document
        dimensions.append((name, value))
    return tuple(dimensions)


def _datum(
    document: Mapping[str, Any],
    namespace: str,
    metric: Any,
    dimensions: tuple[tuple[str, str], ...],
    timestamp: datetime,
) -> Datum | None:
    if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
        return None
    raw = document.get(metric["Name"])
    values: list[Any] = raw if isinstance(raw, list) else [raw]
    if not values or not all(_is_number(value) for value in values):
        return None
    unit = metric.get("Unit")
    resolution = metric.get("StorageResolution")
    return Datum(
        namespace=namespace,
        name=metric["Name"],
        values=tuple(float(value) for value in values if value is not None),
        dimensions=dimensions,
        unit=unit if isinstance(unit, str) and unit != "None" else None,
        timestamp=timestamp,
        storage_resolution=resolution if resolution == 1 else None,
    )


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
