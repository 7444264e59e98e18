"""The console in a real browser (headless chromium): orders placed through the API are seen
live on their page, the saga drawn with each state's status; a declined card shows the
compensation path; a dead-letter queue's redrive button moves its message back. Every page's
screenshot is written under the test's tmp_path and checked not to be blank."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import skip_without_chromium
from tests.browser.console_browser import Console
from tests.support.localcloud_process import RunningLocalCloud
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import Client, final_order, new_customer, new_product, place

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.xdist_group(SHOP_GROUP),
    skip_without_chromium,
]

SAGA = "OrderSagaStateMachine"
CONFIRMED_PATH = {
    "ClaimOrder": "succeeded",
    "ReserveStock": "succeeded",
    "ChargePayment": "succeeded",
    "ScheduleShipment": "succeeded",
    "ConfirmOrder": "succeeded",
    "OrderConfirmed": "succeeded",
}
DECLINED_PATH = {
    "ClaimOrder": "succeeded",
    "ReserveStock": "succeeded",
    "ChargePayment": "caught",  # PaymentDeclined, caught: the compensations run
    "ReleaseStock": "compensated",
    "CompensationsDone": "succeeded",
    "RejectOrder": "compensated",
    "OrderRejected": "succeeded",
}


def only(ran: dict[str, str], drawn: dict[str, str]) -> dict[str, str]:
    """Every state of the drawing: those that ran with their status, the others not-run."""
    return {name: ran.get(name, "not-run") for name in drawn}


def test_an_order_is_followed_live_to_confirmed_with_every_saga_state_succeeded(
    cloud: RunningLocalCloud, admin: Client, console: Console, tmp_path: Path
) -> None:
    # Given a customer and a product in stock
    customer = new_customer(cloud)
    sku = new_product(admin, stock=3)

    # When an order is placed through the API and its page opened right away
    order_id = place(customer, sku, 1, "tok_visa")
    console.open(f"#/orders/{order_id}")
    console.driver.execute_script("window.sameDocument = true")

    # Then the page follows the saga to its end without being reloaded
    drawn = console.wait_for(
        lambda: (s := console.saga_states(order_id)).get("OrderConfirmed") == "succeeded" and s
    )
    assert drawn, console.saga_states(order_id)
    assert console.driver.execute_script("return window.sameDocument") is True
    assert drawn == only(CONFIRMED_PATH, drawn)
    assert set(CONFIRMED_PATH) < set(drawn)  # the whole graph is drawn, compensations too
    execution = f'.execution[data-execution="{order_id}"]'
    assert console.attribute(execution, "data-state-machine") == SAGA
    # (its last state can be drawn a poll before Step Functions records the execution's end)
    assert console.wait_for(lambda: console.attribute(execution, "data-status") == "SUCCEEDED")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    assert console.wait_for(lambda: console.texts("h1 .badge") == ["CONFIRMED"])
    # and the rest of the order's story: its events, the confirmation email, the charge
    assert console.wait_for(
        lambda: (
            console.values("#events tr[data-event]", "data-event")
            == ["OrderPlaced", "OrderConfirmed"]
        )
    )
    assert console.wait_for(lambda: "is confirmed" in console.text("#emails"))
    # and its trace: the POST through the API stage, and the saga linked to it
    origins = "#trace .span-row"
    assert console.wait_for(
        lambda: (
            {"AWS::ApiGateway::Stage", "AWS::StepFunctions::StateMachine"}
            <= set(console.values(origins, "data-origin"))
        )
    ), console.values(origins, "data-origin")
    charges = console.values("#payments tr[data-charge]", "data-charge")
    assert len(charges) == 1
    assert "succeeded" in console.text("#payments tr[data-charge]")

    # and a state's input and output are shown on click
    console.click('g.state[data-state="ChargePayment"]')
    detail = '.state-detail[data-state="ChargePayment"]'
    assert console.attribute(detail, "data-status") == "succeeded"
    output = json.loads(console.text(f"{detail} pre.output"))
    assert output["payment"]["paymentId"] == charges[0]  # the provider's charge

    console.screenshot(tmp_path / "console-confirmed.png")


def test_a_declined_order_shows_the_compensation_path(
    cloud: RunningLocalCloud, admin: Client, console: Console, tmp_path: Path
) -> None:
    # Given a customer and a product in stock
    customer = new_customer(cloud)
    sku = new_product(admin, stock=3)

    # When the order's card is declined, its page open meanwhile
    order_id = place(customer, sku, 1, "tok_declined")
    console.open(f"#/orders/{order_id}")

    # Then the drawing shows the charge caught and the undo steps that ran
    drawn = console.wait_for(
        lambda: (s := console.saga_states(order_id)).get("OrderRejected") == "succeeded" and s
    )
    assert drawn, console.saga_states(order_id)
    assert final_order(customer, order_id)["status"] == "REJECTED"
    assert drawn == only(DECLINED_PATH, drawn)
    edges = f'.execution[data-execution="{order_id}"] path.edge.taken'
    taken = set(
        zip(console.values(edges, "data-source"), console.values(edges, "data-target"), strict=True)
    )
    assert ("ChargePayment", "ReleaseStock") in taken
    assert ("ChargePayment", "ScheduleShipment") not in taken
    # the step that failed is the one shown, with its error
    detail = '.state-detail[data-state="ChargePayment"]'
    assert console.attribute(detail, "data-status") == "caught"
    assert console.text(f"{detail} .error-name") == "PaymentDeclined"
    assert "declined" in console.text(f"{detail} .error-message")
    assert console.wait_for(lambda: console.texts("h1 .badge") == ["REJECTED"])
    assert console.values("#payments tr[data-charge]", "data-charge") == []  # nothing charged
    assert console.wait_for(lambda: "could not be completed" in console.text("#emails"))
    assert console.wait_for(lambda: console.all("#trace .waterfall"))

    console.screenshot(tmp_path / "console-rejected.png")


def test_a_cancelled_order_shows_its_saga_and_its_cancellation(
    cloud: RunningLocalCloud, admin: Client, console: Console
) -> None:
    # Given a confirmed order
    customer = new_customer(cloud)
    order_id = place(customer, new_product(admin, stock=3), 1, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    console.open(f"#/orders/{order_id}")

    # When its owner cancels it
    status, body = customer.call("POST", f"/orders/{order_id}/cancel")
    assert status == 202, body

    # Then its page shows the cancellation run beside the saga, every undo step done
    cancellation = f"cancel-{order_id}"
    drawn = console.wait_for(
        lambda: (s := console.saga_states(cancellation)).get("OrderCancelled") == "succeeded" and s
    )
    assert drawn, console.saga_states(cancellation)
    ran = ["ClaimCancellation", "CancelShipment", "RefundPayment", "ReleaseStock"]
    assert {name: drawn[name] for name in ran} == dict.fromkeys(ran, "succeeded")
    assert drawn["MarkOrderNeedsAttention"] == "not-run"
    machines = console.values(".execution", "data-state-machine")
    assert sorted(m or "" for m in machines) == ["OrderCancellationStateMachine", SAGA]
    assert console.saga_states(order_id)["OrderConfirmed"] == "succeeded"
    assert console.wait_for(lambda: console.texts("h1 .badge") == ["CANCELLED"])
    # and the provider refunded the charge
    assert console.wait_for(lambda: len(console.values("#payments tr[data-refund]", "data-refund")))


def test_redrive_moves_a_dead_letter_back_to_its_queue(
    cloud: RunningLocalCloud, console: Console, tmp_path: Path
) -> None:
    # Given a message in a dead-letter queue (OperatorQueue's, which nothing consumes)
    sqs = cloud.aws.sqs
    dead_letters = sqs.get_queue_url(QueueName="OperatorDeadLetterQueue")["QueueUrl"]
    source = sqs.get_queue_url(QueueName="OperatorQueue")["QueueUrl"]
    body = json.dumps({"case": f"console-test-{uuid.uuid4()}"})
    sqs.send_message(QueueUrl=dead_letters, MessageBody=body)

    # When the queues page shows it and its Redrive button is pressed
    console.open("#/queues")
    row = '#queues tr[data-queue="OperatorDeadLetterQueue"]'
    assert console.wait_for(lambda: console.values(row, "data-depth") == ["1"])
    console.click(f"{row} button.redrive")

    # Then the page says so and shows the DLQ empty
    assert console.wait_for(lambda: "Moved 1 message(s)" in console.text("#redrive-result"))
    assert "back to OperatorQueue" in console.text("#redrive-result")
    assert console.wait_for(lambda: console.values(row, "data-depth") == ["0"])
    console.screenshot(tmp_path / "console-queues.png")
    # and SQS agrees: the DLQ holds nothing, the source queue holds the message
    assert sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=0).get("Messages", []) == []
    received = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert body in [m["Body"] for m in received.get("Messages", [])]


def test_every_other_page_shows_what_its_service_holds(
    cloud: RunningLocalCloud, admin: Client, console: Console, tmp_path: Path
) -> None:
    # Given a confirmed order
    customer = new_customer(cloud)
    order_id = place(customer, new_product(admin, stock=3), 1, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"

    # Then the orders page finds it by a part of its id
    console.open("#/")
    console.one("#order-search").send_keys(order_id[:13])
    assert console.wait_for(
        lambda: console.values("#orders tr[data-order-id]", "data-order-id") == [order_id]
    )
    console.screenshot(tmp_path / "console-orders.png")

    # and the alarms page lists every alarm the template declares, with its state
    console.open("#/alarms")
    alarms = cloud.aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert console.wait_for(
        lambda: len(console.values("#alarms tr[data-alarm]", "data-alarm")) == len(alarms)
    )
    states = set(console.values("#alarms tr[data-alarm]", "data-state"))
    assert states <= {"OK", "ALARM", "INSUFFICIENT_DATA"}
    console.screenshot(tmp_path / "console-alarms.png")

    # and the ledger page shows the provider's charge of the order
    console.open("#/ledger")
    assert console.wait_for(
        lambda: any(order_id in row for row in console.texts("#charges tr[data-charge]"))
    )
    console.screenshot(tmp_path / "console-ledger.png")

    # and the faults page shows the rules injected now (none in this run)
    console.open("#/faults")
    assert console.wait_for(lambda: "No fault rules" in console.text("#faults"))
    console.screenshot(tmp_path / "console-faults.png")


def console_call(
    cloud: RunningLocalCloud, method: str, path: str, json_body: bool
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{cloud.aws_url}{path}",
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Content-Type": "application/json" if json_body else "text/plain"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


REFUSED = [
    # (method, path, sent as JSON) -> (status, code)
    (("GET", "/_console/api/orders?limit=many", False), (400, "VALIDATION_ERROR")),
    (("GET", "/_console/api/orders?limit=0", False), (400, "VALIDATION_ERROR")),
    (("GET", f"/_console/api/orders/{uuid.uuid4()}", False), (404, "NOT_FOUND")),
    (("GET", "/_console/api/queues/OperatorDeadLetterQueue/redrive", False), (405, None)),
    (("POST", "/_console/api/queues/OperatorDeadLetterQueue/redrive", False), (415, None)),
    (("POST", "/_console/api/queues/OperatorQueue/redrive", True), (409, "NOT_REDRIVABLE")),
    (("POST", "/_console/api/queues/NoSuchQueue/redrive", True), (404, "NOT_FOUND")),
    (("GET", "/_console/static/..%2F..%2Fcloud.py", False), (404, "NOT_FOUND")),
    (("GET", "/_console/api/nothing", False), (404, "NOT_FOUND")),
]


@pytest.mark.parametrize(("call", "expected"), REFUSED)
def test_a_request_the_console_refuses_is_a_clear_4xx(
    cloud: RunningLocalCloud, call: tuple[str, str, bool], expected: tuple[int, str | None]
) -> None:
    status, code = expected

    answered, body = console_call(cloud, *call)

    assert answered == status, body
    assert body["message"]
    if code is not None:
        assert body["code"] == code
