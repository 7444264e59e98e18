"""What redriving an execution means (ops.operator.plan_execution_redrive): RedriveExecution
where Step Functions offers it, a fresh execution only where the steps' idempotency makes it
safe, otherwise nothing, always with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from ops.operator import plan_execution_redrive


def plan(**given: Any) -> tuple[str, str]:
    arguments = {
        "status": "FAILED",
        "error": "States.TaskFailed",
        "workflow_type": "STANDARD",
        "redrive_available": True,
        "order_status": "PENDING",
        "workflow": "saga",
        **given,
    }
    decided = plan_execution_redrive(**arguments)
    return decided.action, decided.reason


@pytest.mark.parametrize("status", ["FAILED", "ABORTED", "TIMED_OUT"])
def test_a_standard_execution_that_did_not_succeed_is_redriven(status: str) -> None:
    assert plan(status=status)[0] == "redrive"


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_a_running_or_successful_execution_is_left_alone(status: str) -> None:
    action, reason = plan(status=status)
    assert (action, reason) == ("refuse", f"the execution is {status}: nothing to redrive")


def test_an_execution_that_failed_by_design_after_a_compensation_is_not_redriven() -> None:
    action, reason = plan(error="CompensationFailed", order_status="NEEDS_ATTENTION")
    assert action == "refuse"
    assert "NeedsAttention Fail state" in reason


@pytest.mark.parametrize(
    ("workflow_type", "redrive_available"), [("EXPRESS", True), ("STANDARD", False)]
)
@pytest.mark.parametrize(
    ("workflow", "moving"), [("saga", "PENDING"), ("cancellation", "CANCELLING")]
)
def test_without_redrive_a_fresh_execution_only_while_the_order_is_still_moving(
    workflow_type: str, redrive_available: bool, workflow: str, moving: str
) -> None:
    common = {
        "workflow_type": workflow_type,
        "redrive_available": redrive_available,
        "workflow": workflow,
    }
    action, reason = plan(order_status=moving, **common)
    assert action == "fresh"
    assert "idempotent on the order id" in reason
    for settled in ("CONFIRMED", "REJECTED", "CANCELLED", "NEEDS_ATTENTION"):
        assert plan(order_status=settled, **common)[0] == "refuse"


def test_an_express_execution_is_restarted_only_once_it_has_certainly_ended() -> None:
    # Step Functions does not describe Express executions: the claim's age tells
    express = {"status": None, "workflow_type": "EXPRESS", "error": None}
    young_action, young_reason = plan(claim_age_seconds=60, **express)
    assert young_action == "refuse"
    assert "may still be running" in young_reason
    assert plan(claim_age_seconds=301, **express)[0] == "fresh"
    assert plan(claim_age_seconds=None, **express)[0] == "fresh"  # it never claimed the order
    assert plan(claim_age_seconds=301, order_status="CONFIRMED", **express)[0] == "refuse"
