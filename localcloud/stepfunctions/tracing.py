"""Step Functions' X-Ray tracing (TracingConfiguration Enabled), added to moto's interpreter.

On AWS a traced state machine records one segment per execution (origin
`AWS::StepFunctions::StateMachine`, named after the machine) with a subsegment per state, and a
Lambda task's invocation below its state; the task's function is called with a trace header
whose Parent is that subsegment, so the function's segments join the execution's trace. An
execution started with a trace header (`StartExecution` from a traced Lambda: botocore forwards
its `_X_AMZN_TRACE_ID`, or the `traceHeader` parameter) continues that trace; otherwise it
starts one (Step Functions developer guide, "Tracing Step Functions request data in AWS X-Ray").

`install(emit, traced)` wraps four places of moto's Step Functions (its files are unchanged):
StartExecution (keeps the request's header for the execution about to start), Execution.start
(opens the execution's trace), the Lambda task call (times it, and gives its Invoke the header),
and the execution's end (emits the segment, built from the execution's history).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from localcloud.xray.ids import TraceHeader, new_segment_id, new_trace_id

logger = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]

_install_lock = threading.Lock()
_TRACE_HEADER_HOOK = "localcloud.stepfunctions.tracing.trace-header"
_local = threading.local()  # .start_header (StartExecution), .invoke_header (a task's Invoke)


@dataclass
class _LambdaCall:
    id: str
    state: str
    function: str
    start: float
    end: float = 0.0
    error: bool = False


@dataclass
class _ExecutionTrace:
    root: str
    segment_id: str
    parent: str | None
    calls: list[_LambdaCall] = field(default_factory=list)


class _Tracing:
    emit: Emit | None = None
    traced: frozenset[str] = frozenset()  # state machine ARNs with tracing enabled
    executions: dict[str, _ExecutionTrace] = {}
    lock = threading.Lock()
    installed = False


def install(emit: Emit, traced_state_machines: Iterable[str]) -> None:
    """Trace the executions of these state machines (ARNs) into `emit` (idempotent; a later call
    replaces the emitter and the list)."""
    _Tracing.emit = emit
    _Tracing.traced = frozenset(traced_state_machines)
    with _install_lock:
        if _Tracing.installed:
            return
        _install()
        _Tracing.installed = True


def uninstall() -> None:
    _Tracing.emit = None
    _Tracing.traced = frozenset()


def _install() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )
    from moto.stepfunctions.responses import StepFunctionResponse

    moto_start_execution = StepFunctionResponse.start_execution
    moto_execution_start = Execution.start
    moto_exec_lambda = lambda_eval_utils.execute_lambda_function_integration
    moto_terminated = BaseExecutionWorkerCommunication.terminated
    moto_client_for = lambda_eval_utils.boto_client_for

    def start_execution(self: StepFunctionResponse) -> Any:
        _local.start_header = self.headers.get("X-Amzn-Trace-Id") or self._get_param("traceHeader")
        try:
            return moto_start_execution(self)
        finally:
            _local.start_header = None

    def execution_start(self: Execution) -> None:
        _open_trace(self)
        moto_execution_start(self)

    def execute_lambda_function_integration(
        env: Any, parameters: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        return _traced_lambda_call(moto_exec_lambda, env, parameters, *args, **kw)

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        moto_terminated(self)
        _close_trace(self.execution)

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        client = moto_client_for(*args, **kwargs)
        # Once per client: the clients are kept (localcloud.iam.service_roles), and botocore
        # appends a handler registered again without a unique_id (and forgets its lookups):
        # the Nth task's Invoke ran the hook N times, growing for as long as localcloud ran.
        client.meta.events.register(
            "before-call.lambda.Invoke", _add_trace_header, unique_id=_TRACE_HEADER_HOOK
        )
        return client

    StepFunctionResponse.start_execution = start_execution  # type: ignore[method-assign]
    Execution.start = execution_start  # type: ignore[method-assign]
    # StateTaskLambda (a task whose Resource is the function's ARN) calls it by module attribute.
    lambda_eval_utils.execute_lambda_function_integration = execute_lambda_function_integration
    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]
    # The interpreter's Lambda client (one per task, or a kept one): its Invoke carries the
    # header.
    lambda_eval_utils.boto_client_for = boto_client_for


def invoke_header() -> str | None:
    """The trace header this thread's Lambda task Invoke carries (None: not traced)."""
    header: str | None = getattr(_local, "invoke_header", None)
    return header


def _add_trace_header(params: dict[str, Any], **_: Any) -> None:
    header = invoke_header()
    if header:
        params["headers"]["X-Amzn-Trace-Id"] = header


def _open_trace(execution: Any) -> None:
    """A traced machine's execution joins the StartExecution caller's trace, or starts one."""
    if _Tracing.emit is None or execution.state_machine.arn not in _Tracing.traced:
        return
    given = TraceHeader.parse(getattr(_local, "start_header", None) or execution.trace_header)
    if given is not None and given.sampled is False:
        return
    with _Tracing.lock:
        _Tracing.executions[execution.exec_arn] = _ExecutionTrace(
            root=given.root if given else new_trace_id(),
            segment_id=new_segment_id(),
            parent=given.parent if given else None,
        )


def _traced_lambda_call(
    call_lambda: Callable[..., Any], env: Any, parameters: dict[str, Any], *args: Any, **kw: Any
) -> Any:
    """A Lambda task's Invoke, timed, with the trace header naming its subsegment."""
    context = env.states.context_object.context_object_data
    with _Tracing.lock:
        trace = _Tracing.executions.get(context["Execution"]["Id"])
    if trace is None:
        return call_lambda(env, parameters, *args, **kw)
    call = _LambdaCall(
        id=new_segment_id(),
        state=context.get("State", {}).get("Name", "?"),
        function=str(parameters.get("FunctionName", "")).rsplit(":", 1)[-1],
        start=time.time(),
    )
    _local.invoke_header = str(TraceHeader(trace.root, call.id, True))
    try:
        return call_lambda(env, parameters, *args, **kw)
    except Exception:
        call.error = True
        raise
    finally:
        _local.invoke_header = None
        call.end = time.time()
        with _Tracing.lock:
            trace.calls.append(call)


def _close_trace(execution: Any) -> None:
    with _Tracing.lock:
        trace = _Tracing.executions.pop(execution.exec_arn, None)
    emit = _Tracing.emit
    if trace is None or emit is None:
        return
    try:
        emit(_segment(execution, trace))
    except Exception:
        logger.exception("state machine segment not recorded")


def _epoch(timestamp: Any) -> float:
    if isinstance(timestamp, datetime.datetime):
        return timestamp.timestamp()
    text = str(timestamp).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def _segment(execution: Any, trace: _ExecutionTrace) -> dict[str, Any]:
    """The execution's segment: a subsegment per state entered, its Lambda calls inside."""
    history = execution.to_history_output()["events"]
    states: list[dict[str, Any]] = []
    open_states: dict[str, dict[str, Any]] = {}
    for event in history:
        at = _epoch(event["timestamp"])
        kind = str(event["type"])
        if "stateEnteredEventDetails" in event:
            name = event["stateEnteredEventDetails"]["name"]
            state = {"id": new_segment_id(), "name": name, "start_time": at, "end_time": at}
            open_states[name] = state
            states.append(state)
        elif "stateExitedEventDetails" in event:
            exited = open_states.pop(event["stateExitedEventDetails"]["name"], None)
            if exited is not None:
                exited["end_time"] = at
        elif kind.endswith("Failed") or kind.endswith("TimedOut"):
            for open_state in open_states.values():
                open_state["error"] = True
    for call in trace.calls:
        owner = next(
            (s for s in states if s["name"] == call.state and s["start_time"] <= call.start + 0.01),
            None,
        )
        subsegment = {
            "id": call.id,
            "name": "Lambda",
            "namespace": "aws",
            "start_time": call.start,
            "end_time": call.end,
            "aws": {"operation": "Invoke", "function_name": call.function},
            **({"fault": True} if call.error else {}),
        }
        if owner is not None:
            owner.setdefault("subsegments", []).append(subsegment)
    status = str(execution.exec_status)
    start = execution.start_date.timestamp()
    end = execution.stop_date.timestamp() if execution.stop_date else time.time()
    segment: dict[str, Any] = {
        "name": execution.state_machine.name,
        "origin": "AWS::StepFunctions::StateMachine",
        "id": trace.segment_id,
        "trace_id": trace.root,
        "start_time": start,
        "end_time": end,
        "aws": {
            "execution_arn": execution.exec_arn,
            "state_machine_arn": execution.state_machine.arn,
            "status": status,
        },
        "subsegments": states,
    }
    if trace.parent:
        segment["parent_id"] = trace.parent
    if status.endswith("FAILED") or status.endswith("TIMED_OUT"):
        segment["error"] = True
    if status.endswith("ABORTED"):
        segment["fault"] = True
    return segment
