"""The console's drawing of a state machine (laid out from its ASL) and its reading of an
execution's history into each state's status."""

from __future__ import annotations

from itertools import combinations, pairwise
from typing import Any

import pytest

from localcloud.console.graph import (
    edges_of,
    layout,
    main_path,
    state_runs,
    status_with_history,
    taken_edges,
)
from tests.unit.orders.saga_asl import CANCELLATION, SAGA, substituted_definition

SAGA_MAIN = [
    "ClaimOrder",
    "ReserveStock",
    "ChargePayment",
    "ScheduleShipment",
    "ConfirmOrder",
    "OrderConfirmed",
]


def boxes_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("state_machine", [SAGA, CANCELLATION])
def test_every_state_and_transition_of_the_workflows_is_drawn_without_overlaps(
    state_machine: str,
) -> None:
    definition = substituted_definition(state_machine)

    drawing = layout(definition)

    nodes = {node["name"]: node for node in drawing["nodes"]}
    assert set(nodes) == set(definition["States"])
    for a, b in combinations(nodes.values(), 2):
        assert not boxes_overlap(a, b), (a["name"], b["name"])
    for node in nodes.values():
        assert node["x"] + node["width"] <= drawing["width"]
        assert node["y"] + node["height"] <= drawing["height"]
    drawn = {(e["source"], e["target"], e["kind"]) for e in drawing["edges"]}
    assert drawn == {(e.source, e.target, e.kind) for e in edges_of(definition["States"])}
    for edge in drawing["edges"]:  # no cycles here: every transition leads down the page
        assert nodes[edge["target"]]["y"] > nodes[edge["source"]]["y"], edge
        assert edge["path"].startswith("M")


def test_the_saga_main_path_is_one_column_and_the_compensations_stand_beside_it() -> None:
    definition = substituted_definition(SAGA)

    drawing = layout(definition)

    nodes = {node["name"]: node for node in drawing["nodes"]}
    assert main_path(definition["StartAt"], edges_of(definition["States"])) == set(SAGA_MAIN)
    assert [nodes[name]["main"] for name in SAGA_MAIN] == [True] * len(SAGA_MAIN)
    assert {nodes[name]["x"] for name in SAGA_MAIN} == {min(n["x"] for n in nodes.values())}
    assert [nodes[name]["y"] for name in SAGA_MAIN] == sorted(
        nodes[name]["y"] for name in SAGA_MAIN
    )
    for name in ["CancelShipment", "RefundPayment", "ReleaseStock", "RejectOrder"]:
        assert not nodes[name]["main"]
        assert nodes[name]["x"] > nodes["ClaimOrder"]["x"]
    # the undo steps run in reverse order, top to bottom
    undo = ["CancelShipment", "RefundPayment", "ReleaseStock", "RejectOrder"]
    assert [nodes[n]["y"] for n in undo] == sorted(nodes[n]["y"] for n in undo)


def test_a_loop_is_drawn_and_ranked_without_the_back_edge() -> None:
    definition = {
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done?"},
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": False, "Next": "Wait"}],
                "Default": "Finished",
            },
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
            "Finished": {"Type": "Succeed"},
        },
    }

    drawing = layout(definition)

    rows = {node["name"]: node["y"] for node in drawing["nodes"]}
    assert rows["Poll"] < rows["Done?"] < rows["Wait"]
    back = next(e for e in drawing["edges"] if (e["source"], e["target"]) == ("Wait", "Poll"))
    assert back["path"].startswith("M")
    choice = next(e for e in drawing["edges"] if e["kind"] == "choice")
    assert choice["label"] == "$.done BooleanEquals false"


# ---------------------------------------------------------------- an execution's history


def entered(name: str, kind: str = "Task", state_input: str = "{}") -> dict[str, Any]:
    return {
        "type": f"{kind}StateEntered",
        "stateEnteredEventDetails": {"name": name, "input": state_input},
    }


def exited(name: str, kind: str = "Task", output: str = "{}") -> dict[str, Any]:
    return {
        "type": f"{kind}StateExited",
        "stateExitedEventDetails": {"name": name, "output": output},
    }


def lambda_call(error: str | None = None, output: str = "{}") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails": {}},
        {"type": "LambdaFunctionStarted"},
    ]
    if error is None:
        events.append(
            {
                "type": "LambdaFunctionSucceeded",
                "lambdaFunctionSucceededEventDetails": {"output": output},
            }
        )
    else:
        cause = f'{{"errorMessage": "it went wrong", "errorType": "{error}"}}'
        events.append(
            {
                "type": "LambdaFunctionFailed",
                "lambdaFunctionFailedEventDetails": {"error": error, "cause": cause},
            }
        )
    return events


def step(name: str, *calls: list[dict[str, Any]], output: str = "{}") -> list[dict[str, Any]]:
    return [entered(name), *[e for call in calls for e in call], exited(name, output=output)]


def test_a_confirmed_saga_has_its_main_path_succeeded_and_nothing_else_run() -> None:
    definition = substituted_definition(SAGA)
    history = [
        entered("ClaimOrder"),
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        exited("ClaimOrder"),
        *step("ReserveStock", lambda_call()),
        *step("ChargePayment", lambda_call(), output='{"payment": {"paymentId": "ch_1"}}'),
        *step("ScheduleShipment", lambda_call()),
        *step("ConfirmOrder", lambda_call()),
        entered("OrderConfirmed", "Succeed"),
        exited("OrderConfirmed", "Succeed"),
        {"type": "ExecutionSucceeded"},
    ]

    runs = state_runs(definition, history, "SUCCEEDED")

    assert {n: r["status"] for n, r in runs.items() if r["status"] != "not-run"} == {
        name: "succeeded" for name in SAGA_MAIN
    }
    assert runs["ChargePayment"]["output"] == {"payment": {"paymentId": "ch_1"}}
    assert runs["ChargePayment"]["attempts"] == 1
    assert taken_edges(history) == [[a, b] for a, b in pairwise(SAGA_MAIN)]


def test_a_declined_charge_is_caught_and_the_undo_steps_are_compensated() -> None:
    definition = substituted_definition(SAGA)
    history = [
        *step("ClaimOrder"),
        *step("ReserveStock", lambda_call()),
        *step("ChargePayment", lambda_call("PaymentDeclined")),
        *step("ReleaseStock", lambda_call()),
        entered("CompensationsDone", "Choice"),
        exited("CompensationsDone", "Choice"),
        *step("RejectOrder", lambda_call()),
        entered("OrderRejected", "Succeed"),
        exited("OrderRejected", "Succeed"),
    ]

    runs = state_runs(definition, history, "SUCCEEDED")

    assert runs["ChargePayment"]["status"] == "caught"
    assert runs["ChargePayment"]["error"] == "PaymentDeclined"
    assert runs["ChargePayment"]["cause"]["errorMessage"] == "it went wrong"
    assert runs["ReleaseStock"]["status"] == "compensated"
    assert runs["RejectOrder"]["status"] == "compensated"
    assert runs["CompensationsDone"]["status"] == "succeeded"
    assert runs["ScheduleShipment"]["status"] == "not-run"


def test_a_retried_step_that_then_succeeds_is_succeeded_with_its_attempts() -> None:
    definition = substituted_definition(SAGA)
    history = step("ReserveStock", lambda_call("Lambda.ServiceException"), lambda_call())

    runs = state_runs(definition, history, "RUNNING")

    assert runs["ReserveStock"]["status"] == "succeeded"
    assert runs["ReserveStock"]["attempts"] == 2
    assert runs["ReserveStock"]["retried"] == ["Lambda.ServiceException"]
    assert runs["ReserveStock"]["error"] is None


def test_a_step_under_way_is_running_and_one_the_execution_ended_in_is_failed() -> None:
    definition = substituted_definition(SAGA)
    under_way = [*step("ClaimOrder"), entered("ReserveStock"), *lambda_call()[:2]]

    assert state_runs(definition, under_way, "RUNNING")["ReserveStock"]["status"] == "running"
    assert state_runs(definition, under_way, "ABORTED")["ReserveStock"]["status"] == "failed"

    failing = [*under_way, {"type": "ExecutionFailed", "executionFailedEventDetails": {}}]
    assert state_runs(definition, failing, "FAILED")["ReserveStock"]["status"] == "failed"


def test_a_catch_without_an_exit_event_still_reads_as_caught() -> None:
    """Step Functions may move on to the Catch's state without a TaskStateExited."""
    definition = substituted_definition(SAGA)
    history = [
        *step("ClaimOrder"),
        *step("ReserveStock", lambda_call()),
        entered("ChargePayment"),
        *lambda_call("PaymentDeclined"),
        *step("ReleaseStock", lambda_call()),
    ]

    runs = state_runs(definition, history, "RUNNING")

    assert runs["ChargePayment"]["status"] == "caught"
    assert runs["ReleaseStock"]["status"] == "compensated"


def test_a_fail_state_reached_is_failed() -> None:
    definition = substituted_definition(SAGA)
    history = [entered("NeedsAttention", "Fail"), {"type": "ExecutionFailed"}]

    assert state_runs(definition, history, "FAILED")["NeedsAttention"]["status"] == "failed"


def test_a_history_read_after_the_end_outranks_a_running_status_read_before_it() -> None:
    """DescribeExecution runs before GetExecutionHistory: an execution that ends between the
    two calls reads RUNNING with a history that already holds its end."""
    confirmed = [*step("ConfirmOrder", lambda_call()), {"type": "ExecutionSucceeded"}]
    failed = [*step("ClaimOrder"), {"type": "ExecutionFailed"}]
    redriven = [*failed, {"type": "ExecutionRedriven"}, entered("ReserveStock")]

    assert status_with_history("RUNNING", confirmed) == "SUCCEEDED"
    assert status_with_history("RUNNING", failed) == "FAILED"
    assert status_with_history("RUNNING", [*step("ClaimOrder")]) == "RUNNING"
    assert status_with_history("RUNNING", redriven) == "RUNNING"
    assert status_with_history("ABORTED", confirmed) == "ABORTED"
