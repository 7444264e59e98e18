"""The segments AWS itself records for a traced request, without any SDK in the function:
API Gateway's stage segment (TracingEnabled), Lambda's `AWS::Lambda` and
`AWS::Lambda::Function` segments (Tracing: Active), and which trace header each passes on.

On AWS (X-Ray developer guide, "API Gateway" and "Lambda"): API Gateway continues the
client's `X-Amzn-Trace-Id` or starts a trace, records `<api name>/<stage>` with a `Lambda`
subsegment for the integration, and calls the function with `Parent=<that subsegment>`. Lambda
records the service segment (`AWS::Lambda`, parent: the caller's subsegment) and the function
segment (`AWS::Lambda::Function`), and gives the function `_X_AMZN_TRACE_ID` with
`Parent=<function segment>` (the runtime API's Lambda-Runtime-Trace-Id header), so an SDK's
subsegments and botocore's forwarded header hang below it. An untraced caller (an event source
mapping, a scheduled rule) starts a new trace when the function's tracing is Active.

Sampling: AWS's default rule keeps the first request each second and 5% of the rest; localcloud
keeps every request (a developer looks at each one). A caller's `Sampled=0` is obeyed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.xray.ids import TraceHeader, new_segment_id, new_trace_id

Emit = Callable[[dict[str, Any]], None]


def active_functions(resources: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Functions whose TracingConfig Mode is Active (SAM's `Tracing: Active`)."""
    return {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Lambda::Function"
        and (resource.get("Properties") or {}).get("TracingConfig", {}).get("Mode") == "Active"
    }


def traced_stages(resources: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Logical ids of the RestApis whose stage has TracingEnabled."""
    traced = set()
    for resource in resources.values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::ApiGateway::Stage" and properties.get("TracingEnabled"):
            api = properties.get("RestApiId")
            if isinstance(api, dict) and "Ref" in api:
                traced.add(str(api["Ref"]))
    return traced


def _error_flags(status: int) -> dict[str, bool]:
    if status == 429:
        return {"error": True, "throttle": True}
    if status >= 500:
        return {"fault": True}
    if status >= 400:
        return {"error": True}
    return {}


# ---------------------------------------------------------------- Lambda


@dataclass(frozen=True)
class TracedInvocation:
    function: str
    header: TraceHeader  # what the function gets (Parent = its function segment)
    caller_parent: str | None  # the upstream subsegment, parent of the AWS::Lambda segment
    service_segment_id: str
    started: float  # epoch seconds


class LambdaTracer:
    """Decides each invocation's trace header and emits Lambda's two segments for it."""

    def __init__(self, emit: Emit, active: Iterable[str]) -> None:
        self._emit = emit
        self._active = frozenset(active)

    def begin(self, function: str, trace_header: str | None) -> TracedInvocation | None:
        """The invocation's trace; None when it is not sampled (nothing is recorded)."""
        given = TraceHeader.parse(trace_header)
        if given is not None and given.sampled is False:
            return None
        if given is None and function not in self._active:
            return None  # PassThrough: only a sampled caller's trace is continued
        root = given.root if given is not None else new_trace_id()
        return TracedInvocation(
            function=function,
            header=TraceHeader(root, new_segment_id(), True),
            caller_parent=given.parent if given is not None else None,
            service_segment_id=new_segment_id(),
            started=time.time(),
        )

    def end(
        self,
        traced: TracedInvocation,
        *,
        request_id: str,
        function_error: str | None,
        payload: bytes,
        cold_start: bool,
    ) -> None:
        ended = time.time()
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{traced.function}"
        service: dict[str, Any] = {
            "name": traced.function,
            "origin": "AWS::Lambda",
            "id": traced.service_segment_id,
            "trace_id": traced.header.root,
            "start_time": traced.started,
            "end_time": ended,
            "http": {"response": {"status": 200}},
            "aws": {"request_id": request_id},
        }
        if traced.caller_parent:
            service["parent_id"] = traced.caller_parent
        function: dict[str, Any] = {
            "name": traced.function,
            "origin": "AWS::Lambda::Function",
            "id": traced.header.parent,
            "trace_id": traced.header.root,
            "parent_id": traced.service_segment_id,
            "start_time": traced.started,
            "end_time": ended,
            "aws": {
                "account_id": ACCOUNT_ID,
                "function_arn": arn,
                "resource_names": [traced.function],
                "cold_start": cold_start,
            },
            "subsegments": [
                {
                    "id": new_segment_id(),
                    "name": "Invocation",
                    "start_time": traced.started,
                    "end_time": ended,
                }
            ],
        }
        if function_error is not None:
            function["fault"] = True
            function["cause"] = {"exceptions": [_exception(payload)]}
            function["subsegments"][0]["fault"] = True
        self._emit(service)
        self._emit(function)


def _exception(payload: bytes) -> dict[str, Any]:
    try:
        error = json.loads(payload)
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    return {
        "id": new_segment_id(),
        "type": str(error.get("errorType", "Unhandled")),
        "message": str(error.get("errorMessage", ""))[:1000],
    }


# ---------------------------------------------------------------- API Gateway


@dataclass
class TracedRequest:
    header: TraceHeader  # passed to the integration (Parent = the Lambda subsegment)
    segment_id: str
    subsegment_id: str
    started: float
    caller_parent: str | None = None  # the client's Parent, if it sent a trace header
    resource_path: str | None = None
    function: str | None = None
    invoke_started: float | None = None
    invoke_ended: float | None = None

    @property
    def response_header(self) -> str:
        """X-Amzn-Trace-Id as API Gateway returns it to the client."""
        return str(TraceHeader(self.header.root, None, self.header.sampled))


class ApiTracer:
    """One traced stage: `<api name>/<stage>` segments, origin AWS::ApiGateway::Stage."""

    def __init__(self, emit: Emit, api_name: str, api_id: str, stage: str) -> None:
        self._emit = emit
        self._name = f"{api_name}/{stage}"
        self._api_id = api_id
        self._stage = stage

    def begin(self, incoming: str | None) -> TracedRequest | None:
        given = TraceHeader.parse(incoming)
        if given is not None and given.sampled is False:
            return None
        root = given.root if given is not None else new_trace_id()
        subsegment_id = new_segment_id()
        return TracedRequest(
            header=TraceHeader(root, subsegment_id, True),
            segment_id=new_segment_id(),
            subsegment_id=subsegment_id,
            started=time.time(),
            caller_parent=given.parent if given is not None else None,
        )

    def end(
        self,
        traced: TracedRequest,
        *,
        method: str,
        url: str,
        status: int,
        client_ip: str,
        user_agent: str | None,
        resource_path: str | None,
        request_id: str,
    ) -> None:
        ended = time.time()
        segment: dict[str, Any] = {
            "name": self._name,
            "origin": "AWS::ApiGateway::Stage",
            "id": traced.segment_id,
            "trace_id": traced.header.root,
            "start_time": traced.started,
            "end_time": ended,
            "http": {
                "request": {
                    "method": method,
                    "url": url,
                    "client_ip": client_ip,
                    "user_agent": user_agent or "",
                },
                "response": {"status": status},
            },
            "aws": {
                "api_id": self._api_id,
                "stage": self._stage,
                "resource_path": resource_path,
                "request_id": request_id,
            },
            "resource_arn": f"arn:aws:apigateway:{REGION}::/restapis/{self._api_id}/stages/"
            f"{self._stage}",
            **_error_flags(status),
        }
        if traced.caller_parent:
            segment["parent_id"] = traced.caller_parent
        if traced.function is not None and traced.invoke_started is not None:
            segment["subsegments"] = [
                {
                    "id": traced.subsegment_id,
                    "name": "Lambda",
                    "namespace": "aws",
                    "start_time": traced.invoke_started,
                    "end_time": traced.invoke_ended or ended,
                    "aws": {
                        "operation": "Invoke",
                        "region": REGION,
                        "function_name": traced.function,
                        "resource_names": [traced.function],
                    },
                }
            ]
        self._emit(segment)
