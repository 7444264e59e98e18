"""The order saga's and the cancellation's definitions: substitutions, retry policy, result
paths, compensations, and what happens when a compensation fails for good."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from tests.support.template import ROOT, raw_template, resource
from tests.unit.orders.saga_asl import (
    CANCELLATION,
    QUEUE_URL,
    SAGA,
    asl_path,
    function_arn,
    placeholders,
    substituted_definition,
)
from tests.unit.orders.saga_budget import retry_window_seconds, worst_case_seconds

FORWARD = ["ReserveStock", "ChargePayment", "ScheduleShipment", "ConfirmOrder"]
COMPENSATION = {
    "ReserveStock": "ReleaseStock",
    "ChargePayment": "RefundPayment",
    "ScheduleShipment": "CancelShipment",
}
CANCELLATION_STEPS = ["CancelShipment", "RefundPayment", "ReleaseStock"]
BUSINESS_ERRORS = {
    "OutOfStock",
    "ProductNotFound",
    "MixedCurrencies",
    "ReservationReleased",
    "PaymentDeclined",
    "PaymentTokenUnreadable",  # the card token does not open for the order: never will
    "ShippingUnavailable",
    "ShipmentAlreadyCancelled",
}
CIRCUIT_OPEN = "PaymentProviderCircuitOpen"
LAMBDA_SERVICE_ERRORS = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]
UNDOING = {"CancelShipment", "RefundPayment", "ReleaseStock", "RejectOrder", "MarkOrderCancelled"}
CLAIMS = {SAGA: ("ClaimOrder", "SAGA"), CANCELLATION: ("ClaimCancellation", "CANCELLATION")}
# Short values so each policy is told apart by its numbers.
RETRIES = {
    "SagaRetryIntervalSeconds": 7,
    "SagaRetryMaxAttempts": 4,
    "SagaCompensationRetryIntervalSeconds": 3,
    "SagaCompensationRetryMaxAttempts": 9,
    "PaymentProviderBreakerCooldownSeconds": 25,
}
EXPRESS_LIMIT_SECONDS = 300
RESULT_PATHS = {  # contracts.md
    "ReserveStock": "$.reservation",
    "ChargePayment": "$.payment",
    "ScheduleShipment": "$.shipment",
    "ConfirmOrder": "$.confirmation",
    "CancelShipment": "$.shipmentCancellation",
    "RefundPayment": "$.refund",
    "ReleaseStock": "$.release",
    "RejectOrder": "$.rejection",
    "MarkOrderNeedsAttention": "$.attention",
}
CANCELLATION_RESULT_PATHS = {
    "CancelShipment": "$.shipmentCancellation",
    "RefundPayment": "$.refund",
    "ReleaseStock": "$.release",
    "MarkOrderCancelled": "$.cancellation",
    "MarkOrderNeedsAttention": "$.attention",
}
ATTENTION_TAIL = ["MarkOrderNeedsAttention", "NotifyOperator"]
SQS_SEND = "arn:aws:states:::sqs:sendMessage"
DYNAMODB_PUT = "arn:aws:states:::dynamodb:putItem"


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    definition = substituted_definition(**RETRIES)
    assert definition["StartAt"] == "ClaimOrder"
    result: dict[str, Any] = definition["States"]
    return result


@pytest.fixture(scope="module")
def cancellation() -> dict[str, Any]:
    definition = substituted_definition(CANCELLATION, **RETRIES)
    assert definition["StartAt"] == "ClaimCancellation"
    result: dict[str, Any] = definition["States"]
    return result


def lambda_tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {
        name: state
        for name, state in states.items()
        if state["Type"] == "Task" and not state["Resource"].startswith("arn:aws:states:::")
    }


def run(
    states: dict[str, Any], start: str, failing: frozenset[str] = frozenset()
) -> tuple[list[str], str]:
    """Follow the workflow from `start`: the tasks run, in order, and the terminal state's type.

    The tasks named in `failing` fail after their retries and take their States.ALL Catch; a
    Choice on `$.compensationErrors` sees whether a compensation failed on the way.
    """
    visited: list[str] = []
    failed: list[str] = []
    name = start
    while states[name]["Type"] not in ("Succeed", "Fail"):
        state = states[name]
        assert len(visited) <= 2 * len(states), "the workflow loops"
        if state["Type"] == "Choice":
            (choice,) = state["Choices"]
            assert choice == {
                "Variable": "$.compensationErrors",
                "IsPresent": True,
                "Next": "MarkOrderNeedsAttention",
            }
            name = choice["Next"] if failed else state["Default"]
            continue
        visited.append(name)
        if name in failing:
            catch = catch_for(state, "Lambda.ServiceException")
            if catch["ResultPath"].startswith("$.compensationErrors."):
                failed.append(name)
            name = catch["Next"]
        else:
            name = state["Next"]
        assert name in states, f"Next points at a missing state {name}"
    return visited, states[name]["Type"]


def catch_for(state: dict[str, Any], error: str) -> dict[str, Any]:
    """The Catch Step Functions picks for `error`: the first that names it, or States.ALL."""
    return next(
        c for c in state["Catch"] if error in c["ErrorEquals"] or c["ErrorEquals"] == ["States.ALL"]
    )


# ---------------------------------------------------------------- substitutions


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_the_file_is_json_only_after_substitution(machine: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(asl_path(machine).read_text())  # unquoted ${RetryMaxAttempts}: CFN's job


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_every_placeholder_is_a_definition_substitution_of_the_template_and_vice_versa(
    machine: str,
) -> None:
    substitutions = resource(machine)["Properties"]["DefinitionSubstitutions"]
    assert placeholders(machine) == set(substitutions)


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_the_role_may_invoke_exactly_the_substituted_functions_and_send_to_the_operator_queue(
    machine: str,
) -> None:
    properties = resource(machine)["Properties"]
    functions = {
        value["Fn::GetAtt"][0]
        for value in properties["DefinitionSubstitutions"].values()
        if "Fn::GetAtt" in value
    }
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in properties["Policies"]
        if "LambdaInvokePolicy" in p
    }
    queues = [
        p["SQSSendMessagePolicy"] for p in properties["Policies"] if "SQSSendMessagePolicy" in p
    ]
    assert invoked == functions
    assert queues == [{"QueueName": {"Fn::GetAtt": ["OperatorQueue", "QueueName"]}}]
    assert properties["DefinitionSubstitutions"]["OperatorQueueUrl"] == {"Ref": "OperatorQueue"}


# ---------------------------------------------------------------- tasks


def test_each_task_calls_its_own_function_directly(states: dict[str, Any]) -> None:
    # The direct ARN (not arn:aws:states:::lambda:invoke) makes input and output the payloads.
    assert {name: state["Resource"] for name, state in lambda_tasks(states).items()} == {
        name: function_arn(f"{name}Function") for name in RESULT_PATHS
    }


def test_each_task_result_lands_at_its_contract_path(
    states: dict[str, Any], cancellation: dict[str, Any]
) -> None:
    assert {n: s["ResultPath"] for n, s in lambda_tasks(states).items()} == RESULT_PATHS
    assert {
        n: s["ResultPath"] for n, s in lambda_tasks(cancellation).items()
    } == CANCELLATION_RESULT_PATHS
    assert {n: s["Resource"] for n, s in lambda_tasks(cancellation).items()} == {
        name: function_arn(f"{name}Function") for name in CANCELLATION_RESULT_PATHS
    }


def policy(kind: str, **overrides: Any) -> dict[str, Any]:
    """The exponential backoff with full jitter of a forward step or of a compensation (STANDARD
    caps: 30 s and 60 s between attempts)."""
    if kind == "forward":
        values = {"IntervalSeconds": 7, "MaxAttempts": 4, "MaxDelaySeconds": 30}
    else:
        values = {"IntervalSeconds": 3, "MaxAttempts": 9, "MaxDelaySeconds": 60}
    return {**values, "BackoffRate": 2, "JitterStrategy": "FULL", **overrides}


def test_forward_steps_never_retry_business_errors_nor_an_open_breaker_and_back_off_briefly(
    states: dict[str, Any],
) -> None:
    for name in FORWARD:
        business, lambda_errors, transient = states[name]["Retry"]
        assert set(business["ErrorEquals"]) == BUSINESS_ERRORS | {CIRCUIT_OPEN}, name
        assert business["MaxAttempts"] == 0, name
        # Lambda's own refusals (throttles under load) are retried on their own budget
        assert lambda_errors == {"ErrorEquals": LAMBDA_SERVICE_ERRORS, **policy("forward")}, name
        assert transient == {"ErrorEquals": ["States.ALL"], **policy("forward")}, name


@pytest.mark.parametrize("machine", ["states", "cancellation"])
def test_compensations_retry_for_minutes_with_backoff_and_jitter(
    machine: str, request: pytest.FixtureRequest
) -> None:
    states = request.getfixturevalue(machine)
    for name in (UNDOING | {"MarkOrderNeedsAttention"}) & set(states):
        retry = states[name]["Retry"]
        business, *_, lambda_errors, transient = retry
        assert set(business["ErrorEquals"]) == BUSINESS_ERRORS, name
        assert business["MaxAttempts"] == 0, name
        assert lambda_errors == {"ErrorEquals": LAMBDA_SERVICE_ERRORS, **policy("undo")}, name
        assert transient == {"ErrorEquals": ["States.ALL"], **policy("undo")}, name
        # 3, 6, 12, 24, 48, then 60 s four times: up to 5 min 33 s of waiting on STANDARD
        assert retry_window_seconds(states[name]) == 333, name
    notify = states["NotifyOperator"]["Retry"]
    assert notify == [{"ErrorEquals": ["States.ALL"], **policy("undo")}]


@pytest.mark.parametrize("machine", ["states", "cancellation"])
def test_a_refund_waits_out_an_open_breaker_and_tries_again(
    machine: str, request: pytest.FixtureRequest
) -> None:
    retry = request.getfixturevalue(machine)["RefundPayment"]["Retry"]
    (circuit_open,) = [r for r in retry if r["ErrorEquals"] == [CIRCUIT_OPEN]]
    assert circuit_open == {
        "ErrorEquals": [CIRCUIT_OPEN],
        "IntervalSeconds": 25,  # PaymentProviderBreakerCooldownSeconds: past it, a probe may go
        "MaxAttempts": 10,
        "BackoffRate": 1,
        "JitterStrategy": "NONE",  # jitter could only wake it before the cool-down is over
    }
    assert retry.index(circuit_open) == 1  # before States.ALL, which would also match it


# ---------------------------------------------------------------- once per order


@pytest.mark.parametrize(("machine", "fixture"), [(SAGA, "states"), (CANCELLATION, "cancellation")])
def test_each_workflow_first_claims_its_order_with_a_conditional_put(
    machine: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    states = request.getfixturevalue(fixture)
    name, sort_key = CLAIMS[machine]
    claim = states[name]

    # The claim is a conditional put keyed on the order id (no Lambda), remembering the execution
    assert claim["Resource"] == DYNAMODB_PUT
    parameters = claim["Parameters"]
    assert parameters["TableName"] == "OrdersTable"
    assert parameters["Item"]["pk"] == {"S.$": "States.Format('WORKFLOW#{}', $.orderId)"}
    assert parameters["Item"]["sk"] == {"S": sort_key}
    assert parameters["Item"]["executionId"] == {"S.$": "$$.Execution.Id"}
    # It passes when nobody claimed the order, or this same execution did (its retry, or an
    # at-least-once re-run of it); any other execution's claim stops this one
    assert parameters["ConditionExpression"] == (
        "attribute_not_exists(pk) OR executionId = :execution"
    )
    assert parameters["ExpressionAttributeValues"] == {":execution": {"S.$": "$$.Execution.Id"}}
    assert claim["ResultPath"] is None  # the state goes on unchanged
    refused, transient = claim["Retry"]
    assert refused == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "MaxAttempts": 0,
    }
    assert transient == {"ErrorEquals": ["States.ALL"], **policy("forward")}
    # A second execution ends there, before any side effect, as a success (nothing went wrong)
    (catch,) = claim["Catch"]
    assert catch["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert states[catch["Next"]]["Type"] == "Succeed"
    first_step = FORWARD[0] if machine == SAGA else CANCELLATION_STEPS[0]
    assert claim["Next"] == first_step


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_the_role_may_write_claims_and_nothing_else_in_the_orders_table(machine: str) -> None:
    properties = resource(machine)["Properties"]
    assert properties["DefinitionSubstitutions"]["OrdersTableName"] == {"Ref": "OrdersTable"}
    writes = [
        s
        for p in properties["Policies"]
        if "Statement" in p
        for s in p["Statement"]
        if str(s["Action"]).startswith("dynamodb:")
    ]
    assert writes == [
        {
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": {"Fn::GetAtt": ["OrdersTable", "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WORKFLOW#*"]}},
        }
    ]


# ---------------------------------------------------------------- logs and time limits

LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_each_workflow_logs_to_its_own_group_kept_for_the_retention_period(machine: str) -> None:
    properties = resource(machine)["Properties"]
    logging = properties["Logging"]
    # EXPRESS keeps no history of its own: every event goes to the log; STANDARD logs errors
    assert logging["Level"] == {"Fn::If": ["SagaIsExpress", "ALL", "ERROR"]}
    assert logging["IncludeExecutionData"] is False  # inputs hold payment tokens and addresses
    ((_, group_arn),) = [d["CloudWatchLogsLogGroup"].popitem() for d in logging["Destinations"]]
    group = group_arn["Fn::GetAtt"][0]
    assert group_arn == {"Fn::GetAtt": [group, "Arn"]}
    log_group = resource(group)
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert log_group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    # CloudWatch Logs' delivery actions take no resource: AWS documents them on "*"
    (delivery,) = [
        s
        for p in properties["Policies"]
        if "Statement" in p
        for s in p["Statement"]
        if set(s["Action"]) == LOG_DELIVERY_ACTIONS
    ]
    assert delivery["Resource"] == "*"


def prod_parameters() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    pairs = overrides.split() if isinstance(overrides, str) else overrides
    return dict(pair.split("=", 1) for pair in pairs)


def function_timeout() -> float:
    return float(raw_template()["Globals"]["Function"]["Timeout"])


@pytest.mark.parametrize("machine", [SAGA, CANCELLATION])
def test_on_express_every_path_ends_within_five_minutes_with_the_prod_settings(
    machine: str,
) -> None:
    # Given prod's retry settings on EXPRESS (the template caps what EXPRESS may use)
    parameters = {**prod_parameters(), "SagaWorkflowType": "EXPRESS"}
    definition = substituted_definition(machine, **parameters)
    functions = {
        s["Resource"].rsplit(":", 1)[-1]
        for s in definition["States"].values()
        if s["Type"] == "Task" and s["Resource"].startswith("arn:aws:lambda")
    }
    # (each task function has the global timeout, which the arithmetic uses)
    assert [f for f in functions if "Timeout" in resource(f)["Properties"]] == []

    # Then the longest path, every attempt at its longest, ends within EXPRESS's 5 minutes
    assert worst_case_seconds(definition, function_timeout()) < EXPRESS_LIMIT_SECONDS


def test_on_standard_the_prod_settings_let_a_refund_retry_for_minutes() -> None:
    definition = substituted_definition(SAGA, **prod_parameters())
    refund = definition["States"]["RefundPayment"]
    assert retry_window_seconds(refund) >= 5 * 60
    assert retry_window_seconds(refund, CIRCUIT_OPEN) >= 5 * 60  # ten cool-downs of 30 s


def test_the_workflow_type_parameter_says_what_each_type_keeps() -> None:
    description = " ".join(raw_template()["Parameters"]["SagaWorkflowType"]["Description"].split())
    assert "1-year" not in description
    assert "redrive within 14 days" in description


def test_every_forward_catch_keeps_the_input_and_puts_the_error_at_dollar_error(
    states: dict[str, Any],
) -> None:
    for name in FORWARD:
        catches = states[name]["Catch"]
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name  # nothing escapes
        for catch in catches:
            assert set(catch["ErrorEquals"]) <= BUSINESS_ERRORS | {"States.ALL"}, name
            assert catch["ResultPath"] == "$.error", name


@pytest.mark.parametrize("machine", ["states", "cancellation"])
def test_every_compensation_catch_keeps_the_input_and_files_the_error_under_its_step(
    machine: str, request: pytest.FixtureRequest
) -> None:
    states = request.getfixturevalue(machine)
    undoing = set(COMPENSATION.values()) | {"RejectOrder", "MarkOrderCancelled"}
    for name in undoing & set(states):
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["ResultPath"] == f"$.compensationErrors.{name}", name


# ---------------------------------------------------------------- the saga's paths


def test_the_happy_path_runs_the_forward_steps_and_succeeds(states: dict[str, Any]) -> None:
    assert run(states, FORWARD[0]) == (FORWARD, "Succeed")


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


def test_the_business_errors_each_forward_step_can_raise_are_caught_by_name(
    states: dict[str, Any],
) -> None:
    named = {
        name: {e for c in states[name]["Catch"] for e in c["ErrorEquals"] if e != "States.ALL"}
        for name in FORWARD
    }
    assert named == {
        "ReserveStock": {"OutOfStock", "ProductNotFound", "MixedCurrencies", "ReservationReleased"},
        # the only failures known to have charged nothing (the provider was not asked)
        "ChargePayment": {"PaymentDeclined", "PaymentTokenUnreadable"},
        "ScheduleShipment": {"ShippingUnavailable", "ShipmentAlreadyCancelled"},
        "ConfirmOrder": set(),
    }


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


@pytest.mark.parametrize("broken", ["CancelShipment", "RefundPayment", "ReleaseStock"])
def test_a_failing_compensation_lets_the_others_run_then_needs_an_operator(
    states: dict[str, Any], broken: str
) -> None:
    # Given the confirmation failed, so every step is compensated, and `broken` still fails
    # after its retries
    compensations, end = run(
        states, catch_for(states["ConfirmOrder"], "States.ALL")["Next"], frozenset({broken})
    )

    # Then the other compensations still ran, the order is not rejected but NEEDS_ATTENTION,
    # the case goes to the operator queue and the execution fails (the ExecutionsFailed alarm)
    assert compensations == [
        "CancelShipment",
        "RefundPayment",
        "ReleaseStock",
        *ATTENTION_TAIL,
    ]
    assert end == "Fail"


def test_a_failing_rejection_needs_an_operator_too(states: dict[str, Any]) -> None:
    compensations, end = run(
        states, catch_for(states["ReserveStock"], "OutOfStock")["Next"], frozenset({"RejectOrder"})
    )

    assert compensations == ["RejectOrder", *ATTENTION_TAIL]
    assert end == "Fail"


@pytest.mark.parametrize("machine", ["states", "cancellation"])
def test_the_operator_hears_of_the_case_even_when_marking_the_order_fails(
    machine: str, request: pytest.FixtureRequest
) -> None:
    states = request.getfixturevalue(machine)

    path, end = run(states, "MarkOrderNeedsAttention", frozenset({"MarkOrderNeedsAttention"}))

    assert path == ATTENTION_TAIL
    assert end == "Fail"
    catch = catch_for(states["MarkOrderNeedsAttention"], "States.ALL")
    assert catch["ResultPath"] == "$.attentionError"  # not $.compensationErrors: no loop
    assert states["NeedsAttention"]["Error"] == "CompensationFailed"


@pytest.mark.parametrize(
    ("machine", "workflow"), [("states", "OrderSaga"), ("cancellation", "OrderCancellation")]
)
def test_the_operator_queue_gets_the_case_through_the_sqs_integration(
    machine: str, workflow: str, request: pytest.FixtureRequest
) -> None:
    notify = request.getfixturevalue(machine)["NotifyOperator"]

    assert notify["Resource"] == SQS_SEND
    parameters = notify["Parameters"]
    assert parameters["QueueUrl"] == f"{QUEUE_URL}/OperatorQueue"
    body = parameters["MessageBody"]
    assert body["workflow"] == workflow
    assert body["executionArn.$"] == "$$.Execution.Id"
    assert body["orderId.$"] == "$.orderId"
    assert body["compensationErrors.$"] == "$.compensationErrors"
    assert "paymentToken" not in json.dumps(body)  # never the card token, nor the whole state
    assert notify["ResultPath"] == "$.operatorMessage"
    (retry,) = notify["Retry"]
    assert retry["ErrorEquals"] == ["States.ALL"]
    assert retry["MaxAttempts"] == 9
    assert "Catch" not in notify  # if even this fails, the execution fails and alarms
    assert notify["Next"] == "NeedsAttention"


# ---------------------------------------------------------------- the cancellation's paths


def test_a_cancellation_undoes_every_step_then_marks_the_order_cancelled(
    cancellation: dict[str, Any],
) -> None:
    assert run(cancellation, CANCELLATION_STEPS[0]) == (
        [*CANCELLATION_STEPS, "MarkOrderCancelled"],
        "Succeed",
    )


@pytest.mark.parametrize("broken", [*CANCELLATION_STEPS, "MarkOrderCancelled"])
def test_a_failing_cancellation_step_lets_the_others_run_then_needs_an_operator(
    cancellation: dict[str, Any], broken: str
) -> None:
    path, end = run(cancellation, CANCELLATION_STEPS[0], frozenset({broken}))

    if broken == "MarkOrderCancelled":
        assert path == [*CANCELLATION_STEPS, "MarkOrderCancelled", *ATTENTION_TAIL]
    else:
        assert path == [*CANCELLATION_STEPS, *ATTENTION_TAIL]
    assert end == "Fail"


@pytest.mark.parametrize("machine", ["states", "cancellation"])
def test_every_state_is_reachable(machine: str, request: pytest.FixtureRequest) -> None:
    states = request.getfixturevalue(machine)
    start = "ClaimOrder" if machine == "states" else "ClaimCancellation"
    reachable = {start}
    frontier = [start]
    while frontier:
        state = states[frontier.pop()]
        targets = [
            state.get("Next"),
            state.get("Default"),
            *(c["Next"] for c in state.get("Catch", [])),
            *(c["Next"] for c in state.get("Choices", [])),
        ]
        for target in filter(None, targets):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(states)


# ---------------------------------------------------------------- alarms


def test_the_operator_queue_and_both_workflows_failing_raise_alarms() -> None:
    queue = resource("OperatorQueueAlarm")["Properties"]
    assert (queue["Namespace"], queue["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["OperatorQueue", "QueueName"]}}
    ]
    assert (queue["ComparisonOperator"], queue["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    for alarm, machine in (
        ("OrderSagaFailedAlarm", SAGA),
        ("OrderCancellationFailedAlarm", CANCELLATION),
    ):
        failed = resource(alarm)["Properties"]
        assert (failed["Namespace"], failed["MetricName"]) == ("AWS/States", "ExecutionsFailed")
        assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
        assert (failed["Statistic"], failed["Threshold"]) == ("Sum", 1)
    for alarm in ("OperatorQueueAlarm", "OrderSagaFailedAlarm", "OrderCancellationFailedAlarm"):
        assert resource(alarm)["Properties"]["AlarmActions"] == [{"Ref": "OperatorAlertsTopic"}]
    dlq = resource("OperatorQueue")["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    assert dlq == {"Fn::GetAtt": ["OperatorDeadLetterQueue", "Arn"]}


# ---------------------------------------------------------------- who starts the workflows


def test_one_starter_reads_the_orders_stream_for_both_workflows_beside_the_relay() -> None:
    # The orders stream has two readers (AWS advises at most two per shard): the outbox relay
    # and the one function that starts both workflows
    stream = {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    readers = {
        str(properties["FunctionName"]["Ref"]): properties
        for name, properties in (
            (name, r["Properties"])
            for name, r in raw_template()["Resources"].items()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
        )
        if properties["EventSourceArn"] == stream
    }
    sam_readers = [
        name
        for name, r in raw_template()["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB" and event["Properties"]["Stream"] == stream
    ]
    assert sorted([*readers, *sam_readers]) == [
        "OrdersEventRelayFunction",
        "StartOrderWorkflowsFunction",
    ]
    # It hears only the two events that start a workflow
    patterns = [
        json.loads(f["Pattern"])
        for f in readers["StartOrderWorkflowsFunction"]["FilterCriteria"]["Filters"]
    ]
    assert {p["dynamodb"]["NewImage"]["detailType"]["S"][0] for p in patterns} == {
        "OrderPlaced",
        "OrderCancellationRequested",
    }
    assert all(p["eventName"] == ["INSERT"] for p in patterns)
    # and may start exactly those two state machines
    starter = resource("StartOrderWorkflowsFunction")["Properties"]
    assert starter["Handler"] == "start_order_workflows.handler"
    assert starter["Environment"]["Variables"]["ORDER_SAGA_STATE_MACHINE_ARN"] == {"Ref": SAGA}
    assert starter["Environment"]["Variables"]["ORDER_CANCELLATION_STATE_MACHINE_ARN"] == {
        "Ref": CANCELLATION
    }
    started = [
        p["StepFunctionsExecutionPolicy"]["StateMachineName"]
        for p in starter["Policies"]
        if "StepFunctionsExecutionPolicy" in p
    ]
    assert started == [{"Fn::GetAtt": [SAGA, "Name"]}, {"Fn::GetAtt": [CANCELLATION, "Name"]}]
    assert "StartOrderSagaFunction" not in raw_template()["Resources"]
    assert "StartOrderCancellationFunction" not in raw_template()["Resources"]


# ---------------------------------------------------------------- the pending-order sweeper


def test_the_sweeper_runs_on_a_scheduler_schedule_may_start_only_the_saga_and_alarms() -> None:
    sweeper = resource("SweepPendingOrdersFunction")["Properties"]
    assert sweeper["Handler"] == "sweep_pending_orders.handler"
    # EventBridge Scheduler (not a rule on a bus), on the schedule parameter
    (event,) = sweeper["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "PendingOrderSweepSchedule"}
    variables = sweeper["Environment"]["Variables"]
    assert variables["PENDING_ORDER_SWEEP_AFTER_SECONDS"] == {
        "Ref": "PendingOrderSweepAfterSeconds"
    }
    assert variables["ORDER_SAGA_STATE_MACHINE_ARN"] == {"Ref": SAGA}
    # it reads the orders table and may start the saga, nothing else
    assert sweeper["Policies"] == [
        {"DynamoDBReadPolicy": {"TableName": {"Ref": "OrdersTable"}}},
        {"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::GetAtt": [SAGA, "Name"]}}},
    ]
    # and what it reports (orders.sweeper: metric OrdersSwept, Powertools' service dimension)
    # pages the operator
    alarm = resource("PendingOrdersSweptAlarm")["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Shop", "OrdersSwept")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "orders"}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert alarm["AlarmActions"] == [{"Ref": "OperatorAlertsTopic"}]
    assert (
        raw_template()["Globals"]["Function"]["Environment"]["Variables"][
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
        == "Shop"
    )
