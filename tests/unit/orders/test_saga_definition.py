"""The order saga's definition: substitutions, retry policy, result paths and compensations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.template import resource
from tests.unit.orders.saga_asl import (
    ASL_PATH,
    function_arn,
    placeholders,
    substituted_definition,
)

FORWARD = ["ReserveStock", "ChargePayment", "ConfirmOrder"]
COMPENSATION = {"ReserveStock": "ReleaseStock", "ChargePayment": "RefundPayment"}
BUSINESS_ERRORS = {
    "OutOfStock",
    "ProductNotFound",
    "MixedCurrencies",
    "ReservationReleased",
    "PaymentDeclined",
    "ShippingUnavailable",
}
RESULT_PATHS = {  # contracts.md
    "ReserveStock": "$.reservation",
    "ChargePayment": "$.payment",
    "ConfirmOrder": "$.confirmation",
    "RefundPayment": "$.refund",
    "ReleaseStock": "$.release",
    "RejectOrder": "$.rejection",
}


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    definition = substituted_definition(SagaRetryIntervalSeconds=7, SagaRetryMaxAttempts=4)
    assert definition["StartAt"] == FORWARD[0]
    result: dict[str, Any] = definition["States"]
    return result


def tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def run(states: dict[str, Any], start: str) -> tuple[list[str], str]:
    """Follow Next from `start`: the tasks run, in order, and the terminal state's type."""
    visited: list[str] = []
    name = start
    while "Next" in states[name]:
        visited.append(name)
        name = states[name]["Next"]
        assert name in states, f"Next points at a missing state {name}"
        assert len(visited) <= len(states), "the saga loops"
    return visited, states[name]["Type"]


def test_the_file_is_json_only_after_substitution() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(ASL_PATH.read_text())  # unquoted ${RetryMaxAttempts}: CloudFormation's job


def test_every_placeholder_is_a_definition_substitution_of_the_template_and_vice_versa() -> None:
    substitutions = resource("OrderSagaStateMachine")["Properties"]["DefinitionSubstitutions"]
    assert placeholders() == set(substitutions)


def test_each_task_calls_its_own_function_directly(states: dict[str, Any]) -> None:
    # The direct ARN (not arn:aws:states:::lambda:invoke) makes input and output the payloads.
    assert {name: state["Resource"] for name, state in tasks(states).items()} == {
        name: function_arn(f"{name}Function") for name in RESULT_PATHS
    }


def test_each_task_result_lands_at_its_contract_path(states: dict[str, Any]) -> None:
    assert {name: state["ResultPath"] for name, state in tasks(states).items()} == RESULT_PATHS


def test_business_errors_are_not_retried_and_the_rest_backs_off_with_jitter(
    states: dict[str, Any],
) -> None:
    for name, state in tasks(states).items():
        business, transient = state["Retry"]
        assert set(business["ErrorEquals"]) == BUSINESS_ERRORS, name
        assert business["MaxAttempts"] == 0, name
        assert transient == {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 7,
            "MaxAttempts": 4,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }, name


def test_every_catch_keeps_the_input_and_puts_the_error_at_dollar_error(
    states: dict[str, Any],
) -> None:
    for name in FORWARD:
        catches = states[name]["Catch"]
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name  # nothing escapes
        for catch in catches:
            assert set(catch["ErrorEquals"]) <= BUSINESS_ERRORS | {"States.ALL"}, name
            assert catch["ResultPath"] == "$.error", name


def test_the_happy_path_runs_the_forward_steps_and_succeeds(states: dict[str, Any]) -> None:
    assert run(states, FORWARD[0]) == (FORWARD, "Succeed")


def catch_for(state: dict[str, Any], error: str) -> dict[str, Any]:
    """The Catch Step Functions picks for `error`: the first that names it, or States.ALL."""
    return next(
        c for c in state["Catch"] if error in c["ErrorEquals"] or c["ErrorEquals"] == ["States.ALL"]
    )


@pytest.mark.parametrize("failing", FORWARD)
def test_a_business_failure_undoes_the_finished_steps_in_reverse_then_rejects(
    states: dict[str, Any], failing: str
) -> None:
    # Given the forward step `failing` refuses with a business error (it changed nothing)
    business = [
        e for c in states[failing]["Catch"] for e in c["ErrorEquals"] if e in BUSINESS_ERRORS
    ]
    for error in business or ["States.ALL"]:
        # When the saga follows the Catch for it
        compensations, end = run(states, catch_for(states[failing], error)["Next"])

        # Then each finished step is compensated, latest first, and the order is rejected
        finished = FORWARD[: FORWARD.index(failing)]
        expected = [COMPENSATION[s] for s in reversed(finished) if s in COMPENSATION]
        assert compensations == [*expected, "RejectOrder"], (failing, error)
        assert end == "Succeed"  # a rejected order is a handled business outcome


@pytest.mark.parametrize("failing", FORWARD)
def test_any_other_failure_also_undoes_the_failing_step_itself(
    states: dict[str, Any], failing: str
) -> None:
    # Given the forward step `failing` failed after its retries with a non-business error,
    # which may have come after its write (a lost response, a timeout)
    catch = catch_for(states[failing], "Lambda.ServiceException")

    compensations, end = run(states, catch["Next"])

    # Then the failing step is compensated too (compensations are safe without their step)
    done = FORWARD[: FORWARD.index(failing) + 1]
    expected = [COMPENSATION[s] for s in reversed(done) if s in COMPENSATION]
    assert compensations == [*expected, "RejectOrder"]
    assert end == "Succeed"


def test_compensations_are_not_caught_so_a_failing_one_fails_the_execution(
    states: dict[str, Any],
) -> None:
    # A compensation that still fails after its retries must not end in Succeed: the execution
    # fails at that state, alarms, and can be redriven from it once the cause is fixed.
    for name in ("RefundPayment", "ReleaseStock", "RejectOrder"):
        assert "Catch" not in states[name], name


def test_every_state_is_reachable(states: dict[str, Any]) -> None:
    reachable = {FORWARD[0]}
    frontier = [FORWARD[0]]
    while frontier:
        state = states[frontier.pop()]
        targets = [state.get("Next"), *(c["Next"] for c in state.get("Catch", []))]
        for target in filter(None, targets):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(states)
