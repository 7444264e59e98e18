"""EXPRESS state machines as Step Functions runs them (moto runs every machine as STANDARD).

- StartExecution is idempotent on the execution name for STANDARD machines only: an EXPRESS
  machine starts a second execution for a name it has seen (at-least-once start: the steps
  must be idempotent), each with its own ARN in Express's form,
  `arn:aws:states:<region>:<account>:express:<machine>:<name>:<id>`.
- An EXPRESS execution runs for at most five minutes: past that it ends TIMED_OUT (and is
  counted in CloudWatch's ExecutionsTimedOut, which localcloud's CloudWatch reads from
  ListExecutions).
- CreateStateMachine refuses an EXPRESS definition with a Task AWS does not run in Express
  workflows: an activity, or a `.sync` / `.waitForTaskToken` integration (InvalidDefinition,
  "SCHEMA_VALIDATION_FAILED: Express state machine does not support ...").
- As on AWS, DescribeExecution and GetExecutionHistory refuse an Express execution's ARN
  (InvalidArn). localcloud still lists Express executions in ListExecutions (AWS answers
  StateMachineTypeNotSupported there): it is how localcloud's CloudWatch sees their outcomes,
  which AWS reports as metrics and logs.

`install` wraps moto's StepFunctionsParserBackend.start_execution and create_state_machine
once per process (moto's files are not changed); STANDARD machines keep moto's behaviour.
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import AWSError
from moto.stepfunctions.exceptions import InvalidExecutionInput
from moto.stepfunctions.parser.api import ExecutionStatus, StateMachineType
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)

if TYPE_CHECKING:
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

EXPRESS = "EXPRESS"


@dataclass(frozen=True)
class StepFunctionsSettings:
    # Step Functions quota: an Express workflow runs for at most 5 minutes.
    express_max_duration_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.express_max_duration_seconds <= 0:
            raise ValueError("express_max_duration_seconds must be > 0")


class InvalidDefinition(AWSError):
    """CreateStateMachine's 400 (moto's parser has one, but its code does not reach the wire)."""

    TYPE = "InvalidDefinition"
    STATUS = 400


class _Active:
    """The settings the installed wrapper reads (LocalCloud sets them at each start)."""

    settings = StepFunctionsSettings()


_install_lock = threading.Lock()


class ExpressExecution(Execution):
    """One Express execution: ends TIMED_OUT when it outlives the cap."""

    def __init__(self, *, max_duration_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_duration_seconds = max_duration_seconds
        self.status_lock = threading.Lock()
        self._cap = threading.Timer(max_duration_seconds, self.time_out)
        self._cap.daemon = True

    def start(self) -> None:
        super().start()
        self._cap.start()

    def time_out(self) -> None:
        with self.status_lock:
            if self.exec_status != ExecutionStatus.RUNNING:
                return
            environment = self.exec_worker.env if self.exec_worker else None
            if environment is not None:
                environment.set_timed_out()  # the interpreter stops after the current state
            self.exec_status = ExecutionStatus.TIMED_OUT
            self.stop_date = datetime.datetime.now(tz=datetime.UTC)

    def finished(self) -> None:
        self._cap.cancel()

    def _get_start_execution_worker_comm(self) -> BaseExecutionWorkerCommunication:
        return _ExpressCommunication(self)


class _ExpressCommunication(BaseExecutionWorkerCommunication):
    execution: ExpressExecution

    def terminated(self) -> None:
        execution = self.execution
        execution.finished()
        with execution.status_lock:
            if execution.exec_status == ExecutionStatus.TIMED_OUT:
                return  # it ended at the cap; the interpreter only stopped later
            super().terminated()


def express_definition_errors(definition: str) -> list[str]:
    """What Step Functions refuses in an EXPRESS definition, state by state (nested too)."""
    try:
        document = json.loads(definition)
    except json.JSONDecodeError:
        return []  # moto's own validation reports it
    errors: list[str] = []
    _check_states(document, "", errors)
    return errors


def _check_states(machine: Any, path: str, errors: list[str]) -> None:
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        where = f"{path}/States/{name}"
        resource = state.get("Resource")
        if state.get("Type") == "Task" and isinstance(resource, str):
            problem = _express_problem(resource)
            if problem:
                errors.append(f"{problem} at {where}/Resource")
        for index, branch in enumerate(state.get("Branches") or []):
            _check_states(branch, f"{where}/Branches[{index}]", errors)
        for key in ("Iterator", "ItemProcessor"):
            _check_states(state.get(key), f"{where}/{key}", errors)


def _express_problem(resource: str) -> str | None:
    if resource.startswith("arn:aws:states:") and ":activity:" in resource:
        return "Express state machine does not support Activity ARN"
    if resource.startswith("arn:aws:states:::"):
        for pattern in (".waitForTaskToken", ".sync:2", ".sync"):
            if resource.endswith(pattern):
                return f"Express state machine does not support '{pattern}' service integration"
    return None


def start_express_execution(
    backend: StepFunctionsParserBackend,
    state_machine: StateMachine,
    name: str | None,
    execution_input: str | None,
    trace_header: str | None,
) -> Execution:
    """A new execution every time, whatever the name (moto's start, minus its idempotency)."""
    if name:
        backend._validate_name(name)
    name = name or str(uuid.uuid4())
    input_data = "{}" if execution_input is None else execution_input
    try:
        json.loads(input_data)
    except json.JSONDecodeError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None
    # The definition as it is now: a snapshot that shares the backend and no executions
    # (their worker threads can't be copied), as moto's own start does.
    snapshot = copy.deepcopy(
        state_machine,
        {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend},
    )
    snapshot.sm_type = StateMachineType.EXPRESS
    arn = (
        f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:express:"
        f"{state_machine.name}:{name}:{uuid.uuid4()}"
    )
    execution = ExpressExecution(
        max_duration_seconds=_Active.settings.express_max_duration_seconds,
        name=name,
        sm_type=StateMachineType.EXPRESS,
        role_arn=snapshot.roleArn,
        exec_arn=arn,
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=snapshot,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        input_data=input_data,
        trace_header=trace_header,
        activity_store={},
    )
    state_machine.executions.append(execution)  # type: ignore[arg-type]
    execution.start()
    return execution


def install(settings: StepFunctionsSettings | None = None) -> None:
    """Run EXPRESS machines as EXPRESS (idempotent; later calls only change the settings)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    _Active.settings = settings or StepFunctionsSettings()
    with _install_lock:
        moto_start = StepFunctionsParserBackend.start_execution
        if getattr(moto_start, "localcloud", False):
            return

        def start_execution(
            self: StepFunctionsParserBackend,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Execution:
            state_machine = self.describe_state_machine(state_machine_arn)
            if getattr(state_machine, "type", None) != EXPRESS:
                return moto_start(
                    self,
                    state_machine_arn,
                    name,  # type: ignore[arg-type]
                    execution_input,  # type: ignore[arg-type]
                    trace_header,  # type: ignore[arg-type]
                )
            return start_express_execution(self, state_machine, name, execution_input, trace_header)

        moto_create = StepFunctionsParserBackend.create_state_machine

        def create_state_machine(
            self: StepFunctionsParserBackend, name: str, definition: str, *args: Any, **kwargs: Any
        ) -> StateMachine:
            if kwargs.get("sm_type") == EXPRESS:
                errors = express_definition_errors(definition)
                if errors:
                    raise InvalidDefinition(
                        "Invalid State Machine Definition: "
                        + ", ".join(f"'SCHEMA_VALIDATION_FAILED: {e}'" for e in errors)
                    )
            return moto_create(self, name, definition, *args, **kwargs)

        start_execution.localcloud = True  # type: ignore[attr-defined]
        StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
        StepFunctionsParserBackend.create_state_machine = create_state_machine  # type: ignore[method-assign]
