"""A state machine definition is preprocessed once (localcloud.stepfunctions.parse_cache): each
execution gets a copy of the kept Program, the same components a fresh preprocessing makes and
none shared with another execution, and executions of one machine do not see each other."""

from __future__ import annotations

import enum
import json
import pickle
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
)

from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.stepfunctions import parse_cache
from tests.support.polling import eventually

SAGA = Path(__file__).parents[2] / "state_machines" / "order_saga.asl.json"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/machine"
_PLAIN = (str, int, float, bool, type(None), enum.Enum)


def _saga_definition() -> str:
    """The order saga with its substitutions filled: numbers, and a function ARN."""
    text = SAGA.read_text()
    arn = f'"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:f"'
    return re.sub(r"\$\{[^}]+\}", "2", re.sub(r'"\$\{[^}]+\}"', arn, text))


def _graph(root: Any) -> Iterator[tuple[str, Any]]:
    """Every object reachable from a Program, by path, in a fixed order."""
    stack: list[tuple[str, Any]] = [("program", root)]
    seen: set[int] = set()
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, _PLAIN) or id(value) in seen:  # a value, or an object met before
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            stack.extend((f"{path}[{key!r}]", item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif hasattr(value, "__dict__") and not isinstance(value, type | enum.Enum):
            stack.extend((f"{path}.{name}", item) for name, item in sorted(vars(value).items()))


def _shape(root: Any) -> list[tuple[str, str, Any]]:
    """The graph as (path, type, value for plain values)."""
    return [
        (path, type(value).__qualname__, value if isinstance(value, _PLAIN) else None)
        for path, value in _graph(root)
    ]


def test_each_program_is_a_fresh_preprocessing_of_its_own() -> None:
    # Given the order saga's definition
    definition = _saga_definition()
    parse_cache.install()

    # When two executions get their programs
    first = parse_cache.program(definition)
    second = parse_cache.program(definition)

    # Then each is what moto's own parse and preprocessing make of the definition
    fresh, _ = AmazonStateLanguageParser.parse(definition)
    assert _shape(first) == _shape(fresh)
    assert _shape(second) == _shape(fresh)
    # and they share no component, list or dict
    mutable = (EvalComponent, list, dict)
    first_ids = {id(v) for _, v in _graph(first) if isinstance(v, mutable)}
    second_ids = {id(v) for _, v in _graph(second) if isinstance(v, mutable)}
    assert first_ids
    assert not first_ids & second_ids


def test_a_program_is_rebuilt_from_its_pickled_snapshot_not_deep_copied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the order saga's definition preprocessed once
    definition = _saga_definition()
    parse_cache.install()
    parse_cache.program(definition)

    # When an execution gets its program while deep copies are refused
    def refused(*_: Any, **__: Any) -> Any:
        raise AssertionError("copy.deepcopy of a whole Program (10x an unpickling)")

    monkeypatch.setattr(parse_cache.copy, "deepcopy", refused)
    copied = parse_cache.program(definition)

    # Then it is still what moto's own parse and preprocessing make of the definition
    fresh, _ = AmazonStateLanguageParser.parse(definition)
    assert _shape(copied) == _shape(fresh)


def test_a_program_that_cannot_be_pickled_is_deep_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a definition (new to this process) whose program can't be pickled
    definition = json.dumps(
        {
            "Comment": uuid.uuid4().hex,
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "End": True}},
        }
    )
    parse_cache.install()

    def unpicklable(*_: Any, **__: Any) -> bytes:
        raise pickle.PicklingError("a class defined in a function")

    monkeypatch.setattr(parse_cache.pickle, "dumps", unpicklable)

    # When two executions get their programs
    first = parse_cache.program(definition)
    second = parse_cache.program(definition)

    # Then each is a preprocessing of its own, by deep copy
    fresh, _ = AmazonStateLanguageParser.parse(definition)
    assert _shape(first) == _shape(second) == _shape(fresh)
    assert first is not second


def test_a_bad_definition_is_refused_every_time() -> None:
    parse_cache.install()
    bad = json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": 7}}})

    for _ in range(2):
        with pytest.raises(ASLParserException):
            parse_cache.program(bad)


@pytest.fixture
def stepfunctions() -> Iterator[Any]:
    parse_cache.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


# A Pass state's Result is handed to the execution as the Program holds it; the next states
# add to what it became. A Parallel branch that fails is retried once (attempts in the heap).
MACHINE = {
    "StartAt": "Literal",
    "States": {
        "Literal": {"Type": "Pass", "Result": {"items": [1], "seen": {}}, "Next": "Add"},
        "Add": {
            "Type": "Pass",
            "Parameters": {"run.$": "$$.Execution.Input.run"},
            "ResultPath": "$.seen.by",
            "Next": "Flaky",
        },
        "Flaky": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}
            ],
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _run(stepfunctions: Any, machine: str, run: str) -> tuple[dict[str, Any], list[str]]:
    arn = stepfunctions.start_execution(
        stateMachineArn=machine,
        name=f"{run}-{uuid.uuid4().hex[:6]}",
        input=json.dumps({"run": run}),
    )["executionArn"]
    described = eventually(
        lambda: (
            (d := stepfunctions.describe_execution(executionArn=arn))["status"] != "RUNNING" and d
        )
    )
    assert described, f"{arn} is still running"
    events = stepfunctions.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return json.loads(described.get("output", "null")), [e["type"] for e in events]


def test_executions_of_one_machine_do_not_see_each_other(stepfunctions: Any) -> None:
    # Given a machine whose Pass literal is added to, and whose failing branch is retried once
    machine = stepfunctions.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:6]}", definition=json.dumps(MACHINE), roleArn=ROLE
    )["stateMachineArn"]

    # When it runs twice, one execution after the other
    first_output, first_events = _run(stepfunctions, machine, "first")
    second_output, second_events = _run(stepfunctions, machine, "second")

    # Then each starts from the literal as written and is retried as often
    assert first_output["items"] == [1]
    assert first_output["seen"] == {"by": {"run": "first"}}
    assert second_output["items"] == [1]
    assert second_output["seen"] == {"by": {"run": "second"}}
    assert first_output["error"]["Error"] == second_output["error"]["Error"] == "Boom"
    assert first_events.count("ParallelStateStarted") == 2
    assert second_events == first_events
