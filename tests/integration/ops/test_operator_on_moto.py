"""The operator's tools on moto in-process (no localcloud): a peek leaves every message in its
queue; a redrive moves a DLQ back to its source, and again moves nothing; an execution that
cannot be redriven is restarted fresh only while its order is PENDING; on AWS, the stack tells
where every resource is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from localcloud.cloudformation.tables import create_table
from ops.deployment import Deployment, StackResource, discover
from ops.evidence import peek
from ops.operator import redrive_execution, redrive_queue
from orders.models import (
    DETAIL_TYPES,
    ORDER_SOURCE,
    PRODUCER,
    OrderEventItem,
    OrderLine,
    OrderPlacedData,
    OrderRejectedData,
)
from shop_shared.events import new_event
from tests.support.template import resource

ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
SEALED_TOKEN = "c2VhbGVkIGJ5IEtNUyBmb3IgdGhlIG9yZGVy"  # base64: what PlaceOrder stores
ROLE = "arn:aws:iam::123456789012:role/saga"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def deployment(aws: None) -> Deployment:
    """OrdersTable as the template declares it, a queue with its DLQ, and the saga's machine,
    named as a stack on localcloud would name them (no RedriveExecution, as moto)."""
    create_table(boto3.client("dynamodb"), "OrdersTable", resource("OrdersTable")["Properties"])
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="WorkDeadLetterQueue")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    work = sqs.create_queue(
        QueueName="WorkQueue",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="OrderSagaStateMachine", definition=DEFINITION, roleArn=ROLE
    )["stateMachineArn"]
    resources = {
        "OrdersTable": StackResource("OrdersTable", "AWS::DynamoDB::Table", "OrdersTable"),
        "WorkQueue": StackResource("WorkQueue", "AWS::SQS::Queue", work),
        "WorkDeadLetterQueue": StackResource("WorkDeadLetterQueue", "AWS::SQS::Queue", dlq),
        "OrderSagaStateMachine": StackResource(
            "OrderSagaStateMachine", "AWS::StepFunctions::StateMachine", machine
        ),
    }
    return Deployment(resources=resources, session=boto3.session.Session(), localcloud=True)


def depth(deployment: Deployment, queue: str) -> int:
    url = deployment.physical(queue)
    attributes = deployment.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def visible(deployment: Deployment, queue: str) -> int:
    url = deployment.physical(queue)
    attributes = deployment.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_peek_reads_every_message_and_leaves_each_visible(deployment: Deployment) -> None:
    # Given 23 messages in a dead-letter queue (more than one receive returns)
    url = deployment.physical("WorkDeadLetterQueue")
    for number in range(23):
        deployment.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"n": number}))

    # When the tools peek at it
    messages = peek(deployment, "WorkDeadLetterQueue", url)

    # Then they read all 23, parsed, and every one is still there and visible at once
    assert sorted(m.body["n"] for m in messages) == list(range(23))
    assert {m.queue for m in messages} == {"WorkDeadLetterQueue"}
    assert visible(deployment, "WorkDeadLetterQueue") == 23


def test_a_dead_letter_queue_is_redriven_to_the_queue_it_serves_once(
    deployment: Deployment,
) -> None:
    # Given 12 messages in the DLQ, with attributes
    url = deployment.physical("WorkDeadLetterQueue")
    for number in range(12):
        deployment.client("sqs").send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": number}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )

    # When the operator redrives it, and again
    first = redrive_queue(deployment, "WorkDeadLetterQueue")
    second = redrive_queue(deployment, "WorkDeadLetterQueue")

    # Then the 12 went to WorkQueue (found from its RedrivePolicy) with their attributes, once
    assert (first.destination, first.method, first.moved) == ("WorkQueue", "copy", 12)
    assert second.moved == 0
    assert (depth(deployment, "WorkDeadLetterQueue"), depth(deployment, "WorkQueue")) == (0, 12)
    moved = deployment.client("sqs").receive_message(
        QueueUrl=deployment.physical("WorkQueue"), MessageAttributeNames=["All"]
    )["Messages"][0]
    assert moved["MessageAttributes"]["kind"]["StringValue"] == "test"


def placed_order(deployment: Deployment, *later: Any) -> None:
    placed = OrderPlacedData(
        orderId=ORDER, customerId="customer-1", items=[OrderLine(sku="KB-001", quantity=1)]
    )
    table = deployment.table("OrdersTable")
    for version, data in enumerate((placed, *later), start=1):
        event = new_event(
            source=ORDER_SOURCE,
            detail_type=DETAIL_TYPES[type(data)],
            data=data,
            correlation_id=ORDER,
            producer=PRODUCER,
            occurred_at=datetime.now(UTC),
        )
        item = OrderEventItem.of(
            event,
            order_id=ORDER,
            version=version,
            customer_id="customer-1",
            payment_token_ciphertext=SEALED_TOKEN if version == 1 else None,
        )
        table.put_item(Item=item.to_item())


def aborted_saga(deployment: Deployment) -> dict[str, Any]:
    sfn = deployment.client("stepfunctions")
    machine = deployment.physical("OrderSagaStateMachine")
    started = sfn.start_execution(
        stateMachineArn=machine, name=ORDER, input=json.dumps({"orderId": ORDER})
    )
    sfn.stop_execution(executionArn=started["executionArn"], error="Operator", cause="test")
    return sfn.describe_execution(executionArn=started["executionArn"])


CLAIM_KEY = {"pk": f"WORKFLOW#{ORDER}", "sk": "SAGA"}


def claim(deployment: Deployment, execution_arn: str) -> None:
    """ClaimOrder's record, as the saga's first step writes it."""
    deployment.table("OrdersTable").put_item(
        Item={
            **CLAIM_KEY,
            "itemType": "WORKFLOW_CLAIM",
            "orderId": ORDER,
            "executionId": execution_arn,
            "claimedAt": datetime.now(UTC).isoformat(),
        }
    )


def test_an_aborted_saga_of_a_pending_order_is_restarted_fresh_with_the_same_input(
    deployment: Deployment,
) -> None:
    # Given an order still PENDING whose saga claimed it and was aborted
    placed_order(deployment)
    aborted = aborted_saga(deployment)
    assert aborted["status"] == "ABORTED"
    claim(deployment, aborted["executionArn"])

    # When the operator redrives it (moto has no RedriveExecution)
    result = redrive_execution(deployment, order_id=ORDER)

    # Then a fresh execution with the same input was started, and the reason says why it is safe
    assert (result.executionArn, result.action) == (aborted["executionArn"], "fresh")
    assert "idempotent on the order id" in result.reason
    assert result.newExecutionArn is not None
    fresh = deployment.client("stepfunctions").describe_execution(
        executionArn=result.newExecutionArn
    )
    assert fresh["name"].startswith(f"{ORDER}-rerun-")
    # its input built from the event store as the starter builds it
    assert json.loads(fresh["input"]) == {
        "orderId": ORDER,
        "customerId": "customer-1",
        "items": [{"sku": "KB-001", "quantity": 1}],
        "paymentTokenCiphertext": SEALED_TOKEN,
        "shippingAddressCiphertext": None,
        "correlationId": ORDER,
    }
    # and the aborted execution's claim was released, so the fresh one can claim the order
    assert "Item" not in deployment.table("OrdersTable").get_item(Key=CLAIM_KEY)


def test_the_claim_of_another_running_execution_is_never_released(
    deployment: Deployment,
) -> None:
    # Given the aborted saga of a PENDING order, and another execution running it now
    placed_order(deployment)
    aborted_saga(deployment)
    sfn = deployment.client("stepfunctions")
    running = sfn.start_execution(
        stateMachineArn=deployment.physical("OrderSagaStateMachine"),
        name=f"{ORDER}-rerun-1",
        input="{}",
    )["executionArn"]
    claim(deployment, running)

    # When the operator redrives the aborted one
    result = redrive_execution(deployment, order_id=ORDER)

    # Then nothing is started and the running execution keeps its claim
    assert (result.action, result.newExecutionArn) == ("refuse", None)
    assert running in result.reason
    item = deployment.table("OrdersTable").get_item(Key=CLAIM_KEY)["Item"]
    assert item["executionId"] == running


def test_an_aborted_saga_of_an_order_that_moved_on_is_not_restarted(
    deployment: Deployment,
) -> None:
    # Given an order REJECTED meanwhile whose saga shows as aborted
    placed_order(
        deployment,
        OrderRejectedData(
            orderId=ORDER, customerId="customer-1", reason="OUT_OF_STOCK", message="Out of stock"
        ),
    )
    aborted_saga(deployment)

    # When the operator redrives it
    result = redrive_execution(deployment, order_id=ORDER)

    # Then nothing is started, and the reason names the order's status
    assert (result.action, result.newExecutionArn) == ("refuse", None)
    assert "the order is REJECTED, not PENDING" in result.reason
    machine = deployment.physical("OrderSagaStateMachine")
    listed = deployment.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in listed["executions"]] == [ORDER]


STACK_TEMPLATE = {
    "Parameters": {"PaymentProviderBaseUrl": {"Type": "String"}},
    "Resources": {
        "OrdersTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        },
        "NotificationsDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "NotificationsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["NotificationsDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": 3,
                }
            },
        },
    },
}


def test_on_aws_the_stack_tells_where_everything_is(aws: None) -> None:
    # Given a stack (moto's CloudFormation) with a table, a queue and its DLQ
    boto3.client("cloudformation").create_stack(
        StackName="shop-dev",
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "PaymentProviderBaseUrl", "ParameterValue": "https://pay.example"}
        ],
    )

    # When the tools look for the shop with no endpoint (AWS itself)
    found = discover(None, stack_name="shop-dev")

    # Then they name every resource by its logical id, with its physical id from the stack
    assert not found.localcloud
    assert found.provider_url == "https://pay.example"
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    assert [found.physical("OrdersTable")] == tables
    assert found.physical("OrdersTable") != "OrdersTable"  # CloudFormation named it
    # and find the dead-letter queue from the other queue's RedrivePolicy
    assert list(found.failure_queues()) == ["NotificationsDeadLetterQueue"]
    assert found.source_queues(found.physical("NotificationsDeadLetterQueue")) == [
        found.physical("NotificationsQueue")
    ]
