"""/_localcloud/traces and /_localcloud/traces/<id>: X-Ray's traces as plain JSON for the
console, read through X-Ray's own API (GetTraceSummaries, BatchGetTraces) like any client."""

from __future__ import annotations

import json
import re
import time
from functools import cached_property
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud.awsclients import AwsClients
from localcloud.endpoint.answers import json_error, json_response
from localcloud.xray.ids import is_trace_id

_TRACE_PATH = re.compile(r"^/_localcloud/traces/(?P<id>[^/]+)$")
LOOKBACK_SECONDS = 6 * 3600  # GetTraceSummaries' longest window on AWS


class TraceViews:
    def __init__(self, endpoint_url: str) -> None:
        self._clients = AwsClients(endpoint_url, in_process=True)

    @cached_property
    def _xray(self) -> Any:
        return self._clients.client("xray")  # one client, not one per request

    def __call__(self, request: Request) -> Response | None:
        if request.path == "/_localcloud/traces":
            return self.list(request)
        match = _TRACE_PATH.match(request.path)
        if match is not None:
            return self.detail(match["id"])
        return None

    def list(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "50"))
        except ValueError:
            return json_error(400, "VALIDATION_ERROR", "limit must be an integer")
        if not 1 <= limit <= 1000:
            return json_error(400, "VALIDATION_ERROR", "limit must be between 1 and 1000")
        now = time.time()
        xray = self._xray
        summaries = xray.get_trace_summaries(StartTime=now - LOOKBACK_SECONDS, EndTime=now + 60)[
            "TraceSummaries"
        ]
        ids = [summary["Id"] for summary in summaries]
        traces = [trace_view(t) for t in _batch(xray, ids)]
        traces.sort(key=lambda trace: trace["startTime"] or 0, reverse=True)
        return json_response(200, {"traces": [_summary(trace) for trace in traces[:limit]]})

    def detail(self, trace_id: str) -> Response:
        if not is_trace_id(trace_id):
            return json_error(400, "VALIDATION_ERROR", f"not an X-Ray trace id: {trace_id}")
        traces = _batch(self._xray, [trace_id])
        if not traces:
            return json_error(404, "NOT_FOUND", f"no trace {trace_id}")
        return json_response(200, trace_view(traces[0]))


def _batch(xray: Any, ids: list[str]) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = []
    for start in range(0, len(ids), 5):  # BatchGetTraces takes 5 ids a call on AWS
        traces += xray.batch_get_traces(TraceIds=ids[start : start + 5])["Traces"]
    return traces


def trace_view(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace's segments and subsegments, flattened into spans ordered by start."""
    documents = [json.loads(segment["Document"]) for segment in trace.get("Segments", [])]
    spans: list[dict[str, Any]] = []
    for document in documents:
        _flatten(document, trace["Id"], "segment", document.get("parent_id"), spans)
    by_id = {span["id"]: span for span in spans}
    for span in spans:  # depth across segments too: a Lambda segment below API's subsegment
        depth, parent, seen = 0, span["parentId"], set()
        while parent in by_id and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = by_id[parent]["parentId"]
        span["depth"] = depth
    spans.sort(key=lambda span: (span["startTime"], span["depth"]))
    starts = [span["startTime"] for span in spans]
    ends = [span["endTime"] for span in spans if span["endTime"] is not None]
    start = min(starts) if starts else None
    end = max(ends) if ends else None
    return {
        "id": trace["Id"],
        "startTime": start,
        "endTime": end,
        "durationMs": round((end - start) * 1000, 3) if start and end else None,
        "spans": spans,
    }


def _flatten(
    document: dict[str, Any],
    trace_id: str,
    kind: str,
    parent_id: str | None,
    spans: list[dict[str, Any]],
) -> None:
    start = float(document.get("start_time", 0))
    end = document.get("end_time")
    spans.append(
        {
            "id": document.get("id"),
            "parentId": parent_id,
            "traceId": trace_id,
            "kind": kind,
            "name": document.get("name"),
            "origin": document.get("origin"),
            "startTime": start,
            "endTime": float(end) if end is not None else None,
            "durationMs": round((float(end) - start) * 1000, 3) if end is not None else None,
            "error": bool(document.get("error")),
            "fault": bool(document.get("fault")),
            "throttle": bool(document.get("throttle")),
            "http": document.get("http"),
            "aws": document.get("aws"),
            "annotations": document.get("annotations") or {},
            "cause": document.get("cause"),
        }
    )
    for child in document.get("subsegments") or []:
        _flatten(child, trace_id, "subsegment", document.get("id"), spans)


def _summary(trace: dict[str, Any]) -> dict[str, Any]:
    spans = trace["spans"]
    roots = [span for span in spans if span["depth"] == 0] or spans
    root = roots[0] if roots else {}
    http = root.get("http") or {}
    request, response = http.get("request") or {}, http.get("response") or {}
    return {
        "id": trace["id"],
        "name": root.get("name"),
        "origin": root.get("origin"),
        "startTime": trace["startTime"],
        "endTime": trace["endTime"],
        "durationMs": trace["durationMs"],
        "hasError": any(span["error"] for span in spans),
        "hasFault": any(span["fault"] for span in spans),
        "http": {
            "method": request.get("method"),
            "url": request.get("url"),
            "status": response.get("status"),
        }
        if http
        else None,
        "segmentCount": sum(1 for span in spans if span["kind"] == "segment"),
    }
