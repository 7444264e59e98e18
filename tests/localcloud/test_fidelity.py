"""localcloud refuses what AWS refuses: a mutated copy of template.yaml fails the way it would
fail on AWS, and the template as it is passes.

IAM (issue 8 item 1, and item 7's queue policy): each mutation takes away one permission the
system needs. Each localcloud start costs seconds, so one start carries two mutations whose
effects can't hide each other (the saga's missing invoke permission and the notifications
queue's policy naming the wrong rule).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.mutations import Template, mutated_template, policies, policy_entries, resource
from tests.support.polling import eventually
from tests.support.shop import Client, stock_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-fidelity")]

# Short saga retries: a step that fails for good is compensated in seconds.
OVERRIDES = {"SagaRetryIntervalSeconds": "1", "SagaRetryMaxAttempts": "1"}
ACCOUNT = "123456789012"


# ---------------------------------------------------------------- the mutations
def saga_may_not_invoke_charge_payment(template: Template) -> None:
    (index,) = policy_entries(
        template,
        "OrderSagaStateMachine",
        "LambdaInvokePolicy",
        {"FunctionName": {"Ref": "ChargePaymentFunction"}},
    )
    del policies(template, "OrderSagaStateMachine")[index]


def place_order_may_only_read_orders(template: Template) -> None:
    names = {"TableName": {"Ref": "OrdersTable"}}
    (index,) = policy_entries(template, "PlaceOrderFunction", "DynamoDBCrudPolicy", names)
    policies(template, "PlaceOrderFunction")[index] = {"DynamoDBReadPolicy": names}


def saga_starter_may_start_the_cancellation_machine_instead(template: Template) -> None:
    names = {"StateMachineName": {"Fn::GetAtt": ["OrderSagaStateMachine", "Name"]}}
    starters = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
        and {"StepFunctionsExecutionPolicy": names} in r["Properties"].get("Policies", [])
    ]
    assert starters, "no function may start the order saga"
    for logical_id in starters:
        for index in policy_entries(template, logical_id, "StepFunctionsExecutionPolicy", names):
            policies(template, logical_id)[index] = {
                "StepFunctionsExecutionPolicy": {
                    "StateMachineName": {"Fn::GetAtt": ["OrderCancellationStateMachine", "Name"]}
                }
            }


def notifications_queue_policy_names_the_shipping_rule(template: Template) -> None:
    document = resource(template, "NotificationsQueuePolicy")["Properties"]["PolicyDocument"]
    (statement,) = document["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["NotificationsRule", "Arn"]
    }
    statement["Condition"]["ArnEquals"]["aws:SourceArn"] = {"Fn::GetAtt": ["ShippingRule", "Arn"]}


# ---------------------------------------------------------------- talking to the shop
def new_product(cloud: RunningLocalCloud, stock: int) -> str:
    sku = f"FID-{uuid.uuid4().hex[:8].upper()}"
    admin = Client(cloud, cloud.token("fidelity-admin", admin=True))
    status, body = admin.call(
        "PUT",
        f"/products/{sku}",
        {"name": "Fidelity probe", "priceCents": 990, "currency": "EUR", "stock": stock},
    )
    assert status == 201, body
    return sku


def new_customer(cloud: RunningLocalCloud) -> tuple[Client, str]:
    username = f"fid-{uuid.uuid4().hex[:8]}"
    email = f"{username}@example.com"
    customer = Client(cloud, cloud.token(username))
    status, body = customer.call(
        "POST",
        "/customers",
        {
            "name": "Fidelity Probe",
            "email": email,
            "address": {
                "line1": "Hauptstr. 1",
                "city": "Berlin",
                "postalCode": "10115",
                "country": "DE",
            },
        },
    )
    assert status == 201, body
    return customer, email


def place_order(customer: Client, sku: str) -> tuple[int, Any]:
    return customer.call(
        "POST",
        "/orders",
        {
            "items": [{"sku": sku, "quantity": 1}],
            "paymentToken": "tok_visa",
            "shippingAddress": {
                "line1": "Hauptstr. 1",
                "city": "Berlin",
                "postalCode": "10115",
                "country": "DE",
            },
        },
    )


def settled(customer: Client, order_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        status, body = customer.call("GET", f"/orders/{order_id}")
        assert status == 200, body
        return body if body["status"] not in ("PENDING",) else None

    order = eventually(final, timeout=90)
    assert order, f"order {order_id} never left PENDING"
    return order


def listed_status(customer: Client, order_id: str) -> str | None:
    """The order's status in GET /orders: the read model, fed by the bus through SQS."""
    status, body = customer.call("GET", "/orders")
    assert status == 200, body
    return next((o["status"] for o in body["items"] if o["orderId"] == order_id), None)


def emails_to(cloud: RunningLocalCloud, address: str) -> list[dict[str, Any]]:
    return [m for m in cloud.sent_emails() if address in m["destinations"]["ToAddresses"]]


def refusals(cloud: RunningLocalCloud) -> list[str]:
    return re.findall(r"IAM refused .*", cloud.log())


def started(tmp: Path, *mutations: Callable[[Template], None]) -> Any:
    template = mutated_template(tmp, *mutations)
    return localcloud_process(tmp, template=template, overrides=OVERRIDES)


# ---------------------------------------------------------------- the template as it is
def test_the_template_as_it_is_confirms_an_order_and_notifies_with_no_refusal(
    tmp_path: Path,
) -> None:
    with started(tmp_path) as cloud:
        # Given a product in stock and a registered customer
        sku = new_product(cloud, stock=3)
        customer, email = new_customer(cloud)

        # When the customer orders it
        status, placed = place_order(customer, sku)

        # Then the saga (starter, tasks, payment) confirms it and the customer is told
        assert status == 202, placed
        order = settled(customer, placed["orderId"])
        assert order["status"] == "CONFIRMED", order
        assert stock_of(cloud, sku) == 2
        assert eventually(lambda: emails_to(cloud, email)), "no notification was delivered"
        assert eventually(lambda: listed_status(customer, placed["orderId"]) == "CONFIRMED")
        # and IAM, enforced all along, refused nothing
        iam = cloud.status()["iam"]
        assert iam["roles"] > 0
        assert (iam["refusals"], iam["undeliveredEvents"]) == (0, 0), refusals(cloud)


# ---------------------------------------------------------------- the saga and the bus
@pytest.fixture(scope="class")
def saga_and_queue_mutated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with started(
        tmp_path_factory.mktemp("saga-and-queue"),
        saga_may_not_invoke_charge_payment,
        notifications_queue_policy_names_the_shipping_rule,
    ) as cloud:
        yield cloud


@pytest.fixture(scope="class")
def rejected_order(saga_and_queue_mutated: RunningLocalCloud) -> dict[str, Any]:
    cloud = saga_and_queue_mutated
    sku = new_product(cloud, stock=3)
    customer, email = new_customer(cloud)
    status, placed = place_order(customer, sku)
    assert status == 202, placed
    order = settled(customer, placed["orderId"])
    return {"order": order, "sku": sku, "customer": customer, "email": email}


class TestSagaRoleWithoutChargePaymentAndQueuePolicyNamingAnotherRule:
    def test_every_order_is_rejected_with_the_stock_given_back(
        self, saga_and_queue_mutated: RunningLocalCloud, rejected_order: dict[str, Any]
    ) -> None:
        cloud = saga_and_queue_mutated
        order = rejected_order["order"]

        assert order["status"] == "REJECTED", order
        assert stock_of(cloud, rejected_order["sku"]) == 3
        denial = (
            "IAM refused lambda:InvokeFunction on "
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ChargePaymentFunction "
            "to role OrderSagaStateMachineRole"
        )
        assert denial in cloud.log()

    def test_eventbridge_does_not_deliver_to_a_queue_whose_policy_names_another_rule(
        self, saga_and_queue_mutated: RunningLocalCloud, rejected_order: dict[str, Any]
    ) -> None:
        cloud = saga_and_queue_mutated
        customer, order_id = rejected_order["customer"], rejected_order["order"]["orderId"]

        # The OrderRejected event reached the bus: the read model's queue got it ...
        assert eventually(lambda: listed_status(customer, order_id) == "REJECTED")
        # ... but not the notifications queue, so the customer was never told
        assert emails_to(cloud, rejected_order["email"]) == []
        assert cloud.status()["iam"]["undeliveredEvents"] >= 2  # CustomerRegistered, OrderRejected
        assert (
            f"EventBridge did not deliver to arn:aws:sqs:us-east-1:{ACCOUNT}:NotificationsQueue "
            f"for rule arn:aws:events:us-east-1:{ACCOUNT}:rule/shop-bus/NotificationsRule"
        ) in cloud.log()


# ---------------------------------------------------------------- placing and starting
def test_place_order_with_a_read_only_policy_fails_with_access_denied(tmp_path: Path) -> None:
    with started(tmp_path, place_order_may_only_read_orders) as cloud:
        sku = new_product(cloud, stock=3)
        customer, _ = new_customer(cloud)

        status, body = place_order(customer, sku)

        assert 500 <= status < 600, body
        # DynamoDB's process refused it; its log line reaches localcloud's log through that
        # process's output, which the gateway's 500 may overtake
        assert eventually(
            lambda: any(
                "to role PlaceOrderFunctionRole" in line
                and f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/OrdersTable " in line
                for line in refusals(cloud)
            ),
            timeout=30,
        ), refusals(cloud)
        # so does the function's own log line, through its worker's output
        assert eventually(lambda: "AccessDeniedException" in cloud.log() or None, timeout=30)
        orders = cloud.aws.dynamodb.scan(TableName="OrdersTable", Select="COUNT")["Count"]
        assert orders == 0
        assert stock_of(cloud, sku) == 3


def test_a_saga_starter_allowed_only_the_cancellation_machine_leaves_orders_pending(
    tmp_path: Path,
) -> None:
    with started(tmp_path, saga_starter_may_start_the_cancellation_machine_instead) as cloud:
        sku = new_product(cloud, stock=3)
        customer, _ = new_customer(cloud)

        status, placed = place_order(customer, sku)
        assert status == 202, placed

        denial = re.compile(
            r"IAM refused states:StartExecution on "
            rf"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:OrderSagaStateMachine to role \w+"
        )
        assert eventually(lambda: denial.search(cloud.log())), refusals(cloud)
        machines = cloud.aws.stepfunctions.list_state_machines()["stateMachines"]
        (saga,) = [m for m in machines if m["name"] == "OrderSagaStateMachine"]
        executions = cloud.aws.stepfunctions.list_executions(
            stateMachineArn=saga["stateMachineArn"]
        )["executions"]
        assert [e for e in executions if e["name"] == placed["orderId"]] == []
        assert customer.call("GET", f"/orders/{placed['orderId']}")[1]["status"] == "PENDING"
        assert stock_of(cloud, sku) == 3
