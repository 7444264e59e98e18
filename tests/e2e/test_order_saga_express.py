"""End to end on localcloud with SagaWorkflowType=EXPRESS: the saga runs as an Express
workflow, and a duplicated start does nothing the second time.

localcloud starts a second Express execution for a name it has seen, as Step Functions does
(StartExecution is idempotent on the name for Standard workflows only), and refuses
DescribeExecution on Express executions, as AWS does; it still lists them, which is how these
tests (and localcloud's CloudWatch) see their outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shop import (
    SAGA_OVERRIDES,
    Client,
    final_order,
    item,
    new_customer,
    new_product,
    order_events,
    outbox,
    place,
    provider_charges,
    stock_of,
    sub_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-express")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    overrides = {**SAGA_OVERRIDES, "SagaWorkflowType": "EXPRESS"}
    with localcloud_process(tmp_path_factory.mktemp("express"), overrides=overrides) as running:
        yield running


def saga_arn(cloud: RunningLocalCloud) -> str:
    return str(
        cloud.status()["environments"]["StartOrderWorkflowsFunction"][
            "ORDER_SAGA_STATE_MACHINE_ARN"
        ]
    )


def executions_named(cloud: RunningLocalCloud, name: str) -> list[dict[str, Any]]:
    listed = cloud.aws.stepfunctions.list_executions(stateMachineArn=saga_arn(cloud))
    return [e for e in listed["executions"] if e["name"] == name]


def claim(cloud: RunningLocalCloud, order_id: str) -> dict[str, Any] | None:
    return item(cloud, "OrdersTable", pk=f"WORKFLOW#{order_id}", sk="SAGA")


def test_the_saga_runs_as_an_express_workflow(cloud: RunningLocalCloud, admin: Client) -> None:
    # Given the state machine is an Express workflow
    described = cloud.aws.stepfunctions.describe_state_machine(stateMachineArn=saga_arn(cloud))
    assert described["type"] == "EXPRESS"
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)

    # When an order is placed
    order_id = place(customer, sku, 2, "tok_visa")
    order = final_order(customer, order_id)

    # Then it is confirmed, charged once, its stock taken once, by one Express execution
    assert (order["status"], order["totalCents"]) == ("CONFIRMED", 2500)
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderConfirmed"]
    assert len(provider_charges(cloud, order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    assert stock_of(cloud, sku) == 3
    (execution,) = executions_named(cloud, order_id)
    assert ":express:" in execution["executionArn"]
    assert execution["status"] == "SUCCEEDED"
    # and it claimed the order first
    claimed = claim(cloud, order_id)
    assert claimed is not None
    assert claimed["executionId"] == execution["executionArn"]


def test_a_duplicated_start_runs_a_second_execution_that_does_nothing(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a confirmed order
    sku = new_product(admin, stock=5, price=1250)
    customer = new_customer(cloud)
    order_id = place(customer, sku, 1, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    (first,) = executions_named(cloud, order_id)

    # When its saga is started again under the same name, as a redelivered OrderPlaced record
    # makes the starter do (Express starts a second execution for it)
    saga_input = {
        "orderId": order_id,
        "customerId": sub_of(customer),
        "items": [{"sku": sku, "quantity": 1}],
        "paymentToken": "tok_visa",
        "shippingAddressCiphertext": None,
        "correlationId": order_id,
    }
    second_arn = cloud.aws.stepfunctions.start_execution(
        stateMachineArn=saga_arn(cloud), name=order_id, input=json.dumps(saga_input)
    )["executionArn"]

    def second_ended() -> dict[str, Any] | None:
        found = [e for e in executions_named(cloud, order_id) if e["executionArn"] == second_arn]
        return found[0] if found and found[0]["status"] != "RUNNING" else None

    second = eventually(second_ended)

    # Then the second execution ran and ended well, having done nothing: the claim is the
    # first's, one charge, the stock taken once, the order's history unchanged
    assert second_arn != first["executionArn"]
    assert second, "the second execution did not end"
    assert second["status"] == "SUCCEEDED"
    claimed = claim(cloud, order_id)
    assert claimed is not None
    assert claimed["executionId"] == first["executionArn"]
    assert len(provider_charges(cloud, order_id)) == 1
    assert len(outbox(cloud, "PaymentsTable", "PaymentCharged", order_id)) == 1
    assert stock_of(cloud, sku) == 4
    assert order_events(cloud, order_id) == ["OrderPlaced", "OrderConfirmed"]
    reservation = item(cloud, "InventoryTable", pk=f"RESERVATION#{order_id}")
    assert reservation is not None
    assert reservation["status"] == "RESERVED"
