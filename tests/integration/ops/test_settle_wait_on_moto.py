"""What the invariant checker waits for before judging (moto in-process): not for the mail of a
customer who never registered, which notifications retries until its dead-letter queue, but for
every email still owed to a registered customer, and for NotificationsQueue's work when no such
mail is left to excuse it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest

from localcloud.cloudformation.tables import create_table
from notifications.models import Contact, SentNotification
from notifications.repository import DynamoDBNotificationsRepository
from ops.deployment import Deployment, StackResource
from ops.evidence import order_events
from ops.invariants import busy_consumer_queues, undeliverable_mail
from orders.logic import fold
from orders.models import (
    DETAIL_TYPES,
    ORDER_SOURCE,
    PRODUCER,
    Order,
    OrderEventItem,
    OrderLine,
    OrderPlacedData,
    OrderRejectedData,
)
from shop_shared.events import new_event
from tests.support.template import resource

REGISTERED = "customer-1"
STRANGER = "stranger-1"
REGISTERED_ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e01"
STRANGERS_ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e02"
SEALED_TOKEN = "c2VhbGVkIGJ5IEtNUyBmb3IgdGhlIG9yZGVy"


@pytest.fixture
def deployment(aws: None) -> Deployment:
    """OrdersTable and NotificationsTable as the template declares them, NotificationsQueue with
    its dead-letter queue (maxReceiveCount 3)."""
    client = boto3.client("dynamodb")
    for table in ("OrdersTable", "NotificationsTable"):
        create_table(client, table, resource(table)["Properties"])
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="NotificationsDeadLetterQueue")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName="NotificationsQueue",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    resources = {
        "OrdersTable": StackResource("OrdersTable", "AWS::DynamoDB::Table", "OrdersTable"),
        "NotificationsTable": StackResource(
            "NotificationsTable", "AWS::DynamoDB::Table", "NotificationsTable"
        ),
        "NotificationsQueue": StackResource("NotificationsQueue", "AWS::SQS::Queue", queue),
        "NotificationsDeadLetterQueue": StackResource(
            "NotificationsDeadLetterQueue", "AWS::SQS::Queue", dlq
        ),
    }
    return Deployment(resources=resources, session=boto3.session.Session(), localcloud=True)


def rejected_order(deployment: Deployment, order_id: str, customer_id: str) -> str:
    """An order placed and rejected (OrderRejected: mail notifications sends); its event id."""
    datas: tuple[OrderPlacedData | OrderRejectedData, ...] = (
        OrderPlacedData(
            orderId=order_id, customerId=customer_id, items=[OrderLine(sku="KB-001", quantity=1)]
        ),
        OrderRejectedData(
            orderId=order_id,
            customerId=customer_id,
            reason="PAYMENT_DECLINED",
            message="The payment was declined",
        ),
    )
    event_id = ""
    for version, data in enumerate(datas, start=1):
        event = new_event(
            source=ORDER_SOURCE,
            detail_type=DETAIL_TYPES[type(data)],
            data=data,
            correlation_id=order_id,
            producer=PRODUCER,
            occurred_at=datetime.now(UTC),
        )
        item = OrderEventItem.of(
            event,
            order_id=order_id,
            version=version,
            customer_id=customer_id,
            payment_token_ciphertext=SEALED_TOKEN if version == 1 else None,
        )
        deployment.table("OrdersTable").put_item(Item=item.to_item())
        event_id = event.event_id
    return event_id


def bus_message(event_id: str, order_id: str, customer_id: str) -> str:
    """The SQS body EventBridge delivers to NotificationsQueue."""
    return json.dumps(
        {
            "source": ORDER_SOURCE,
            "detail-type": "OrderRejected",
            "detail": {
                "metadata": {"eventId": event_id},
                "data": {"orderId": order_id, "customerId": customer_id},
            },
        }
    )


def in_retry(deployment: Deployment, body: str) -> None:
    """A message the consumer has received and failed: invisible until its timeout."""
    sqs = deployment.client("sqs")
    url = deployment.physical("NotificationsQueue")
    sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)


class Shop:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.repository = DynamoDBNotificationsRepository("NotificationsTable")
        self.repository.save_contact(
            Contact(customer_id=REGISTERED, email="ada@example.com", updated_at=datetime.now(UTC))
        )
        self.registered_mail = rejected_order(deployment, REGISTERED_ORDER, REGISTERED)
        self.strangers_mail = rejected_order(deployment, STRANGERS_ORDER, STRANGER)

    def mailed_the_registered_customer(self) -> None:
        self.repository.record_sent(
            SentNotification(
                event_id=self.registered_mail,
                detail_type="OrderRejected",
                customer_id=REGISTERED,
                order_id=REGISTERED_ORDER,
                message_id="ses-1",
                sent_at=datetime.now(UTC),
            )
        )

    def not_waited_for(self) -> int | None:
        events = order_events(self.deployment, None)
        orders: dict[str, Order] = {}
        for key, items in events.items():
            order = fold(item.recorded() for item in items)
            assert order is not None
            orders[key] = order
        return undeliverable_mail(
            self.deployment, events, orders, busy_consumer_queues(self.deployment)
        )


@pytest.fixture
def shop(deployment: Deployment) -> Shop:
    return Shop(deployment)


def test_the_unregistered_customers_mail_in_retry_is_not_waited_for(shop: Shop) -> None:
    # Given the registered customer was mailed, and the stranger's mail is being retried
    shop.mailed_the_registered_customer()
    in_retry(shop.deployment, bus_message(shop.strangers_mail, STRANGERS_ORDER, STRANGER))

    # When the checker asks whether the work left matters
    # Then it is that one message, owed to nobody: not waited for
    assert shop.not_waited_for() == 1


def test_an_email_still_owed_to_a_registered_customer_is_waited_for(shop: Shop) -> None:
    # Given the stranger's mail in retry, and the registered customer's email not yet sent
    in_retry(shop.deployment, bus_message(shop.strangers_mail, STRANGERS_ORDER, STRANGER))

    assert shop.not_waited_for() is None


def test_a_copy_of_the_unregistered_customers_mail_is_not_waited_for_either(shop: Shop) -> None:
    # Given the registered customer mailed, and two copies of the stranger's mail in retry (a
    # duplicated delivery)
    shop.mailed_the_registered_customer()
    for _ in range(2):
        in_retry(shop.deployment, bus_message(shop.strangers_mail, STRANGERS_ORDER, STRANGER))

    assert shop.not_waited_for() == 2


def test_mail_already_dead_lettered_leaves_nothing_to_excuse(shop: Shop) -> None:
    # Given the stranger's mail already on the dead-letter queue, and one more message in retry
    shop.mailed_the_registered_customer()
    shop.deployment.client("sqs").send_message(
        QueueUrl=shop.deployment.physical("NotificationsDeadLetterQueue"),
        MessageBody=bus_message(shop.strangers_mail, STRANGERS_ORDER, STRANGER),
    )
    in_retry(shop.deployment, bus_message(shop.registered_mail, REGISTERED_ORDER, REGISTERED))

    # Then that message is not the stranger's: waited for
    assert shop.not_waited_for() is None
