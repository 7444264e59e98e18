"""How an SQS mapping paces itself, rule by rule (Lambda's scaling and retries for queues).

The poller's concurrency and its handling of a throttled batch, with a scripted function in
place of Lambda's runtime; the whole path is in test_event_sources.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pytest

from localcloud.eventsources.base import EventSourceSettings
from localcloud.eventsources.mappings import (
    InvalidEventSourceMapping,
    check_visibility_timeout,
    mapping_spec,
)
from localcloud.eventsources.sqs import SqsPoller
from localcloud.lambda_.concurrency import TooManyRequestsException
from localcloud.lambda_.runtime import InvokeResult

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.lambda_.runtime import LambdaRuntime

QUEUE = "arn:aws:sqs:us-east-1:123456789012:Work"


@dataclass
class Endpoint:
    endpoint_url: str = "http://127.0.0.1:1"


class AlwaysThrottled:
    def __init__(self) -> None:
        self.calls = 0

    def invoke(self, name: str, payload: bytes, **_: Any) -> InvokeResult:
        self.calls += 1
        raise TooManyRequestsException(name, "ReservedFunctionConcurrentInvocationLimitExceeded")


def poller(function: Any = None, **mapping: Any) -> SqsPoller:
    spec = mapping_spec("Queue", {"EventSourceArn": QUEUE, "FunctionName": "F", **mapping})
    settings = EventSourceSettings(throttle_backoff_seconds=0.02, throttle_backoff_max_seconds=0.05)
    return SqsPoller(
        spec,
        cast("LambdaRuntime", function),
        cast("AwsClients", Endpoint()),
        settings,
        visibility_timeout=0.3,
    )


@pytest.fixture
def default_poller() -> Iterator[SqsPoller]:
    made = poller()
    yield made
    made._workers.shutdown()


def message_record(n: int) -> dict[str, Any]:
    return {"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": json.dumps({"n": n})}


def test_without_scaling_config_lambda_starts_with_five_batches_and_adds_300_a_minute(
    default_poller: SqsPoller,
) -> None:
    assert default_poller.target == 5

    default_poller._last_scale_up = time.monotonic() - 1.0  # a second of full batches
    default_poller._scale(busy=True)

    assert default_poller.target == 10


def test_failures_halve_the_batches_and_a_quiet_queue_goes_back_to_five(
    default_poller: SqsPoller,
) -> None:
    default_poller.target = 40

    default_poller._scale(backoff=True)
    halved = default_poller.target
    default_poller._scale(quiet=True)

    assert (halved, default_poller.target) == (20, 5)


def test_maximum_concurrency_caps_the_batches_however_busy_the_queue() -> None:
    capped = poller(ScalingConfig={"MaximumConcurrency": 2})
    capped._last_scale_up = time.monotonic() - 60.0

    capped._scale(busy=True)

    assert (capped.target, capped.cap) == (2, 2)
    capped._workers.shutdown()


def test_a_throttled_batch_is_retried_until_its_visibility_timeout_then_goes_back() -> None:
    function = AlwaysThrottled()
    throttled = poller(function)

    kept = throttled._invoke_until_visible_again([message_record(1)], time.monotonic())

    assert kept is None  # nothing deleted: it reappears on the queue
    assert function.calls > 1
    assert throttled.throttles == function.calls
    throttled._workers.shutdown()


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"BatchSize": 20}, "Maximum batch window in seconds must be greater than 0"),
        ({"BatchSize": 10_001}, "BatchSize must be between 1 and 10000"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, "MaximumConcurrency must be between 2"),
        ({"MaximumRetryAttempts": 3}, "Unsupported MaximumRetryAttempts"),
        ({"BisectBatchOnFunctionError": True}, "Unsupported BisectBatchOnFunctionError"),
    ],
)
def test_lambda_refuses_these_queue_mappings(properties: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEventSourceMapping) as refused:
        mapping_spec("Queue", {"EventSourceArn": QUEUE, "FunctionName": "F", **properties})

    assert reason in refused.value.reason


def test_a_visibility_timeout_shorter_than_the_function_timeout_is_refused() -> None:
    spec = mapping_spec("Queue", {"EventSourceArn": QUEUE, "FunctionName": "F"})

    with pytest.raises(InvalidEventSourceMapping) as refused:
        check_visibility_timeout(spec, visibility_timeout=30, function_timeout=60)

    assert refused.value.reason == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    )
