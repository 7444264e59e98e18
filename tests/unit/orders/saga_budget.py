"""The longest a workflow can run, from its definition: the arithmetic behind EXPRESS's 5 minutes.

Every path from the start state to a terminal state is followed (a task either succeeds on its
last attempt or fails into each of its Catches; a Choice may take any branch), and each task
costs its worst case: every attempt it may make at its longest, plus every wait its retriers
may add (interval x backoff^k, capped at MaxDelaySeconds; FULL jitter only shortens a wait).

An attempt that runs the function lasts at most the function's timeout; an attempt Lambda
refuses (Lambda.TooManyRequestsException and the other Lambda.* service errors: the function did
not run) is counted as LAMBDA_REFUSAL_SECONDS; an attempt of a service integration (DynamoDB,
SQS) as INTEGRATION_ATTEMPT_SECONDS. Those two are assumptions, written down here and in the
README.
"""

from __future__ import annotations

import functools
from typing import Any

LAMBDA_REFUSAL_SECONDS = 1.0
INTEGRATION_ATTEMPT_SECONDS = 10.0
INTEGRATION_PREFIX = "arn:aws:states:::"


def retrier_seconds(retrier: dict[str, Any], attempt_seconds: float) -> float:
    """What one retrier can add: each retry's wait plus the attempt it makes."""
    interval = float(retrier.get("IntervalSeconds", 1))
    backoff = float(retrier.get("BackoffRate", 2.0))
    cap = float(retrier.get("MaxDelaySeconds", float("inf")))
    retries = int(retrier.get("MaxAttempts", 3))
    return sum(min(interval * backoff**k, cap) + attempt_seconds for k in range(retries))


def task_seconds(state: dict[str, Any], function_timeout: float) -> float:
    """A task's worst case: the first attempt, then every retry of every retrier."""
    integration = str(state["Resource"]).startswith(INTEGRATION_PREFIX)
    run = INTEGRATION_ATTEMPT_SECONDS if integration else function_timeout
    total = run
    for retrier in state.get("Retry", []):
        lambda_refusal = all(e.startswith("Lambda.") for e in retrier["ErrorEquals"])
        total += retrier_seconds(retrier, LAMBDA_REFUSAL_SECONDS if lambda_refusal else run)
    return total


def next_states(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [c["Next"] for c in state.get("Catch", [])]
    targets += [c["Next"] for c in state.get("Choices", [])]
    return [t for t in targets if t]


def worst_case_seconds(definition: dict[str, Any], function_timeout: float) -> float:
    """The longest path's duration, from StartAt (the state graph has no cycles)."""
    states: dict[str, Any] = definition["States"]

    @functools.cache
    def from_state(name: str) -> float:
        state = states[name]
        own = task_seconds(state, function_timeout) if state["Type"] == "Task" else 0.0
        return own + max((from_state(n) for n in next_states(state)), default=0.0)

    return from_state(definition["StartAt"])


def retry_window_seconds(state: dict[str, Any], errors: str = "States.ALL") -> float:
    """How long a task keeps retrying one kind of error: the sum of its retrier's waits."""
    (retrier,) = [r for r in state["Retry"] if errors in r["ErrorEquals"]]
    return retrier_seconds(retrier, 0.0)
