"""Step Functions as AWS runs it (tests/localcloud/fixtures/stepfunctions.yaml).

moto runs every state machine as STANDARD and names every error from Lambda itself
`Exception`; localcloud runs EXPRESS machines as EXPRESS (a second execution for a name it
has seen, a cap on duration) and names Lambda's refusals as Step Functions does. The EXPRESS
cap is shortened from five minutes to three seconds here (`--express-max-duration`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually

FIXTURES = Path(__file__).parent / "fixtures"
EXPRESS_CAP_SECONDS = 3.0

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-stepfunctions")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("stepfunctions"),
        template=FIXTURES / "stepfunctions.yaml",
        express_max_duration=EXPRESS_CAP_SECONDS,
    ) as running:
        yield running


def machine_arn(cloud: RunningLocalCloud, name: str) -> str:
    machines = cloud.aws.stepfunctions.list_state_machines()["stateMachines"]
    (arn,) = [m["stateMachineArn"] for m in machines if m["name"] == name]
    return arn


def executions(cloud: RunningLocalCloud, machine: str, name: str) -> list[dict[str, Any]]:
    listed = cloud.aws.stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    return [dict(e) for e in listed if e["name"] == name]


def finished(cloud: RunningLocalCloud, execution_arn: str) -> dict[str, Any]:
    sfn = cloud.aws.stepfunctions
    described = eventually(
        lambda: (
            (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d
        )
    )
    assert described, f"{execution_arn} is still running"
    return dict(described)


def timed_out_count(cloud: RunningLocalCloud, machine: str) -> float:
    """AWS/States ExecutionsTimedOut for the machine, over the last ten minutes."""
    now = datetime.now(UTC)
    datapoints = cloud.aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/States",
        MetricName="ExecutionsTimedOut",
        Dimensions=[{"Name": "StateMachineArn", "Value": machine}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


# ---------------------------------------------------------------- EXPRESS vs STANDARD
def test_an_express_machine_starts_a_second_execution_for_a_name_it_has_seen(
    cloud: RunningLocalCloud,
) -> None:
    # Given an EXPRESS machine and a name
    machine = machine_arn(cloud, "ExpressMachine")
    name = f"order-{uuid.uuid4()}"

    # When it is started twice with that name and the same input
    first = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine, name=name, input=json.dumps({"seconds": 0})
    )["executionArn"]
    second = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine, name=name, input=json.dumps({"seconds": 0})
    )["executionArn"]

    # Then two executions ran, each with its own Express ARN, and both succeeded
    assert first != second
    assert all(":express:ExpressMachine:" + name + ":" in arn for arn in (first, second))
    done = eventually(
        lambda: [e["status"] for e in executions(cloud, machine, name)] == ["SUCCEEDED"] * 2
    )
    assert done, executions(cloud, machine, name)


def test_a_standard_machine_starts_one_execution_per_name(cloud: RunningLocalCloud) -> None:
    # Given a STANDARD machine and a name
    machine = machine_arn(cloud, "StandardMachine")
    name = f"order-{uuid.uuid4()}"
    given = json.dumps({"seconds": 2})

    # When it is started twice with that name and the same input while the first runs
    first = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine, name=name, input=given
    )["executionArn"]
    second = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine, name=name, input=given
    )["executionArn"]

    # Then it is the same execution, and it runs once
    assert first == second
    assert ":execution:StandardMachine:" + name in first
    assert finished(cloud, first)["status"] == "SUCCEEDED"
    assert len(executions(cloud, machine, name)) == 1
    # and once it has ended the name can't be used again (ExecutionAlreadyExists)
    with pytest.raises(ClientError) as refused:
        cloud.aws.stepfunctions.start_execution(stateMachineArn=machine, name=name, input=given)
    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_an_express_execution_past_its_cap_ends_timed_out(cloud: RunningLocalCloud) -> None:
    # Given an EXPRESS execution that would wait far longer than the cap
    machine = machine_arn(cloud, "ExpressMachine")
    name = f"slow-{uuid.uuid4()}"
    arn = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine, name=name, input=json.dumps({"seconds": 60})
    )["executionArn"]

    # When the cap has passed
    (execution,) = eventually(
        lambda: [e for e in executions(cloud, machine, name) if e["status"] != "RUNNING"]
    ) or [None]

    # Then it ended TIMED_OUT, which CloudWatch counts in AWS/States ExecutionsTimedOut
    assert execution is not None, "the execution outlived the cap"
    assert execution["status"] == "TIMED_OUT"
    assert eventually(lambda: timed_out_count(cloud, machine) >= 1)
    # and, as on AWS, an Express execution can't be described
    with pytest.raises(ClientError) as refused:
        cloud.aws.stepfunctions.describe_execution(executionArn=arn)
    assert refused.value.response["Error"]["Code"] == "InvalidArn"


# ---------------------------------------------------------------- Lambda's refusals
def run_to_end(cloud: RunningLocalCloud, machine_name: str) -> dict[str, Any]:
    arn = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=machine_arn(cloud, machine_name),
        name=str(uuid.uuid4()),
        input=json.dumps({"id": "x"}),
    )["executionArn"]
    return finished(cloud, arn)


def test_a_throttled_lambda_task_is_caught_as_lambda_too_many_requests(
    cloud: RunningLocalCloud,
) -> None:
    # Given a task whose function has ReservedConcurrentExecutions 0 (always throttled)
    # When the machine runs
    execution = run_to_end(cloud, "ThrottledTaskMachine")

    # Then the task failed with Step Functions' name for Lambda's 429, which the Catch caught
    assert execution["status"] == "SUCCEEDED"
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "Lambda.TooManyRequestsException"
    assert (
        "(Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException;"
        in (error["Cause"])
    )


def test_a_lambda_task_its_role_may_not_invoke_is_caught_as_aws_lambda_exception(
    cloud: RunningLocalCloud,
) -> None:
    # Given a task whose machine's role does not allow lambda:InvokeFunction on its function
    # When the machine runs
    execution = run_to_end(cloud, "DeniedTaskMachine")

    # Then Lambda's 403 AccessDeniedException (not modelled by the Lambda API) reaches the
    # task as the SDK's base exception, Lambda.AWSLambdaException, which the Catch caught
    assert execution["status"] == "SUCCEEDED"
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "Lambda.AWSLambdaException"
    assert "Status Code: 403; Error Code: AccessDeniedException;" in error["Cause"]


# ---------------------------------------------------------------- what EXPRESS can't run
def test_an_express_definition_with_a_callback_task_is_refused_and_a_standard_one_is_not(
    cloud: RunningLocalCloud,
) -> None:
    # Given a definition that waits for a task token (a callback)
    definition = json.dumps(
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"},
                    "End": True,
                }
            },
        }
    )
    role = "arn:aws:iam::123456789012:role/AnyRole"
    sfn = cloud.aws.stepfunctions
    suffix = uuid.uuid4().hex[:8]

    # When it is created as EXPRESS, then as STANDARD
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(
            name=f"express-{suffix}", definition=definition, roleArn=role, type="EXPRESS"
        )
    created = sfn.create_state_machine(
        name=f"standard-{suffix}", definition=definition, roleArn=role, type="STANDARD"
    )

    # Then Step Functions refuses the EXPRESS one, naming the state, and accepts the other
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert (
        "Express state machine does not support '.waitForTaskToken' service integration "
        "at /States/Ask/Resource"
    ) in refused.value.response["Error"]["Message"]
    assert created["stateMachineArn"].endswith(f":standard-{suffix}")
