"""End to end on localcloud: the invariant checker and the operator's tools (ops/).

One localcloud for the module. Orders take every path (confirmed, declined, out of stock,
cancelled, a compensation that fails for good, a customer who never registered); the checker
finds every invariant held and lists the NEEDS_ATTENTION order with its case. The operator
lists that order, and redrives a dead letter back to its queue. Then invariants are broken on
purpose through the AWS endpoint, and the checker names each violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ops.deployment import Deployment, discover
from ops.invariants import (
    INVARIANTS,
    CheckOptions,
    Report,
    check,
    check_when_settled,
    render,
)
from ops.operator import redrive_queue
from tests.support.localcloud_process import ROOT, RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shop import (
    POLE,
    SAGA_OVERRIDES,
    Client,
    new_customer,
    new_product,
    place,
    scan,
    settled,
)
from tests.support.template import raw_template

pytestmark = [pytest.mark.e2e]
# Two xdist groups, so xdist may run them on both workers at once, each on a localcloud and a
# shop of its own (the module's fixtures, once per worker): the operator's test leaves a copy of
# the unregistered customer's mail in NotificationsDeadLetterQueue while the original is still
# being retried, and the checker then rightly waits out its CHECK_SECONDS before judging (it
# cannot tell that message from a duplicate of sent mail); the broken-on-purpose test needs no
# such wait after it. Run in one process, the four run in this order on one localcloud as before.
OPERATOR_GROUP = pytest.mark.xdist_group("localcloud-invariants")
BROKEN_GROUP = pytest.mark.xdist_group("localcloud-invariants-broken")

# Short retries, compensations' too (where the template has them), so a failing refund
# reaches NEEDS_ATTENTION in seconds.
OVERRIDES = {
    **SAGA_OVERRIDES,
    **{
        name: "1"
        for name in ("SagaCompensationRetryIntervalSeconds", "SagaCompensationRetryMaxAttempts")
        if name in raw_template()["Parameters"]
    },
}
BERLIN = {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
PRICE = 1250
CHECK_SECONDS = 90.0
SETTLE_SECONDS = 10.0  # an order's email and summary follow its final status by a moment
# What `make invariants` puts on the path: the layer and every service folder (Makefile's
# PROJECT_PYTHONPATH), so the checker imports the services' models as the functions do.
PROJECT_PYTHONPATH = os.pathsep.join(
    [
        "layers/shared",
        *sorted(
            f"functions/{path.name}"
            for path in (ROOT / "functions").iterdir()
            if path.is_dir() and not path.name.startswith("__")
        ),
    ]
)


@dataclass(frozen=True)
class Shop:
    """The orders placed along every path, and the stock each SKU was put with."""

    baseline: dict[str, int]
    plenty: str
    confirmed: str
    declined: str
    out_of_stock: str
    cancelled: str
    attention: str
    unregistered: str


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(tmp_path_factory.mktemp("invariants"), overrides=OVERRIDES) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(cloud: RunningLocalCloud) -> Deployment:
    return discover(cloud.aws_url)


@pytest.fixture(scope="module")
def shop(cloud: RunningLocalCloud) -> Shop:
    # Given three products, a registered customer and one who never registered
    admin = Client(cloud, cloud.token("invariants-admin", admin=True))
    plenty, scarce, polar = (new_product(admin, stock=s, price=PRICE) for s in (10, 1, 4))
    customer = new_customer(cloud)
    stranger = Client(cloud, cloud.token(f"stranger-{uuid.uuid4().hex[:8]}"))

    # When orders take every path
    confirmed = place(customer, plenty, 2, "tok_visa")
    declined = place(customer, plenty, 1, "tok_declined")
    out_of_stock = place(customer, scarce, 2, "tok_visa")
    cancelled = place(customer, plenty, 1, "tok_visa")
    attention = place(customer, polar, 1, "tok_refund_fails", shippingAddress=POLE)
    unregistered = place(stranger, plenty, 1, "tok_visa", shippingAddress=BERLIN)
    outcomes = {
        order_id: settled(client, order_id, "PENDING")["status"]
        for client, order_id in (
            (customer, confirmed),
            (customer, declined),
            (customer, out_of_stock),
            (customer, cancelled),
            (customer, attention),
            (stranger, unregistered),
        )
    }
    status, body = customer.call("POST", f"/orders/{cancelled}/cancel")
    assert status == 202, body
    outcomes[cancelled] = settled(customer, cancelled, "CONFIRMED", "CANCELLING")["status"]
    assert outcomes == {
        confirmed: "CONFIRMED",
        declined: "REJECTED",
        out_of_stock: "REJECTED",
        cancelled: "CANCELLED",
        attention: "NEEDS_ATTENTION",
        unregistered: "CONFIRMED",
    }
    return Shop(
        baseline={plenty: 10, scarce: 1, polar: 4},
        plenty=plenty,
        confirmed=confirmed,
        declined=declined,
        out_of_stock=out_of_stock,
        cancelled=cancelled,
        attention=attention,
        unregistered=unregistered,
    )


def options(shop: Shop) -> CheckOptions:
    return CheckOptions(bound_seconds=120, settle_seconds=SETTLE_SECONDS, baseline=shop.baseline)


def settled_report(deployment: Deployment, shop: Shop) -> Report:
    """The report once nothing is in flight: emails and summaries follow a moment after an
    order's final status."""
    return check_when_settled(deployment, options=options(shop), wait_seconds=CHECK_SECONDS)


def cli(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": PROJECT_PYTHONPATH},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def bus_event(cloud: RunningLocalCloud, order_id: str, detail_type: str) -> dict[str, Any]:
    """The order's event as the bus delivers it to a consumer's queue (one of its rules)."""
    (item,) = [
        i
        for i in scan(cloud, "OrdersTable")
        if i["pk"] == f"ORDER#{order_id}" and i.get("detailType") == detail_type
    ]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "shop.orders",
        "account": "123456789012",
        "time": item["occurredAt"],
        "region": "us-east-1",
        "resources": [],
        "detail": json.loads(item["detail"]),
    }


def dead_letter(cloud: RunningLocalCloud, queue: str, body: dict[str, Any]) -> None:
    url = cloud.aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    cloud.aws.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def queue_depth(cloud: RunningLocalCloud, queue: str) -> int:
    url = cloud.aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = cloud.aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


# ---------------------------------------------------------------- every path, every invariant
@OPERATOR_GROUP
def test_every_invariant_holds_after_orders_along_every_path(
    cloud: RunningLocalCloud, deployment: Deployment, shop: Shop
) -> None:
    # When the checker looks at the shop after every order ended
    report = settled_report(deployment, shop)

    # Then every invariant held, each one observed, with nothing left in flight
    assert report.held, render(report)
    assert set(report.invariants) == set(INVARIANTS)
    assert all(result.observed for result in report.invariants.values()), render(report)
    assert report.inFlight == []
    assert report.judged == report.orders == 6
    # stock was judged per SKU against the baseline, not skipped
    assert not any("not judged" in note for note in report.invariants["stock_conserved"].notes)
    # the customer who never registered got no email, and that is accounted for
    assert any(
        "never registered" in n for n in report.invariants["one_email_per_final_status"].notes
    )
    # And the NEEDS_ATTENTION order is listed with its case (still charged: the refund failed)
    (attention,) = report.needsAttention
    assert attention.orderId == shop.attention
    assert (attention.failedSteps, attention.error) == (
        ["RefundPayment"],
        "PaymentProviderUnavailable",
    )
    assert attention.netChargedCents == PRICE
    (case,) = attention.cases
    assert case.queue in {"OperatorQueue", "OperatorDeadLetterQueue"}  # each look is a receive
    assert (case.workflow, case.failedSteps) == ("OrderSaga", ["RefundPayment"])
    assert case.executionArn is not None
    assert case.executionArn.endswith(f":{shop.attention}")

    # And the command line says the same, as JSON, with exit code 0
    baseline = cloud.log_path.parent / "baseline.json"
    baseline.write_text(json.dumps(shop.baseline))
    run = cli(
        "ops.invariants",
        *("--aws-url", cloud.aws_url, "--baseline", str(baseline), "--json"),
        *("--bound-seconds", "120", "--settle-seconds", str(SETTLE_SECONDS)),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    printed = json.loads(run.stdout)
    assert {
        name: result["held"] for name, result in printed["invariants"].items()
    } == dict.fromkeys(INVARIANTS, True)
    # and for one order
    one = cli("ops.invariants", "--aws-url", cloud.aws_url, "--order", shop.cancelled)
    assert one.returncode == 0, one.stdout + one.stderr
    assert f"for order {shop.cancelled}" in one.stdout


# ---------------------------------------------------------------- the operator
@OPERATOR_GROUP
def test_the_operator_lists_attention_and_redrives_a_dead_letter(
    cloud: RunningLocalCloud, deployment: Deployment, shop: Shop
) -> None:
    # Given the projection gave up on an order event (it sits in the read model's DLQ), and
    # the notifications service on the confirmation of a customer who never registered
    given_up = bus_event(cloud, shop.confirmed, "OrderConfirmed")
    dead_letter(cloud, "OrderSummariesDeadLetterQueue", given_up)
    dead_letter(
        cloud, "NotificationsDeadLetterQueue", bus_event(cloud, shop.unregistered, "OrderConfirmed")
    )

    # When the operator lists what needs attention and what waits in the dead-letter queues
    attention = cli("ops.operator", "--aws-url", cloud.aws_url, "--json", "attention")
    letters = cli("ops.operator", "--aws-url", cloud.aws_url, "--json", "dead-letters")

    # Then the NEEDS_ATTENTION order is listed with its case
    assert attention.returncode == 0, attention.stderr
    (listed,) = json.loads(attention.stdout)
    assert listed["orderId"] == shop.attention
    assert [case["workflow"] for case in listed["cases"]] == ["OrderSaga"]
    # and each dead letter with what it is about: the registered customer's is a violation,
    # the unregistered customer's is accounted for
    assert letters.returncode == 0, letters.stderr
    rows = {row["queue"]: row for row in json.loads(letters.stdout)}
    (violation,) = rows["OrderSummariesDeadLetterQueue"]["violations"]
    assert violation["orderId"] == shop.confirmed
    assert violation["eventId"] == given_up["detail"]["metadata"]["eventId"]
    (accounted,) = rows["NotificationsDeadLetterQueue"]["accounted"]
    assert accounted["orderId"] == shop.unregistered
    report = check(deployment, options=options(shop))
    assert not report.invariants["dead_letters_accounted_for"].held

    # When the operator redrives the read model's DLQ (twice: the second finds nothing)
    moved = redrive_queue(deployment, "OrderSummariesDeadLetterQueue")
    again = cli(
        "ops.operator", "--aws-url", cloud.aws_url, "redrive-queue", "OrderSummariesDeadLetterQueue"
    )

    # Then the event went back to its queue, was projected (a duplicate: nothing changes), and
    # every invariant holds again, the unregistered customer's dead letter accounted for
    assert (moved.source, moved.destination, moved.method, moved.moved) == (
        "OrderSummariesDeadLetterQueue",
        "OrderSummariesQueue",
        "copy",
        1,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["moved"] == 0
    assert eventually(lambda: queue_depth(cloud, "OrderSummariesQueue") == 0)
    assert queue_depth(cloud, "OrderSummariesDeadLetterQueue") == 0
    # (NotificationsQueue still retries the original of the copy put on its DLQ above, which
    # the checker cannot tell from a duplicate of sent mail, so it would wait out all of its
    # CHECK_SECONDS: the redriven event's projection is waited for above, the rest is settled)
    report = check_when_settled(deployment, options=options(shop), wait_seconds=SETTLE_SECONDS)
    assert report.held, render(report)
    # (the notifications service may have given up on it by itself meanwhile: the same case;
    # and the operator case moves to its DLQ once looked at often enough: still accounted for)
    accounted = {
        (a.queue, a.orderId) for a in report.invariants["dead_letters_accounted_for"].accounted
    }
    assert ("NotificationsDeadLetterQueue", shop.unregistered) in accounted
    assert accounted <= {
        ("NotificationsDeadLetterQueue", shop.unregistered),
        ("OperatorDeadLetterQueue", shop.attention),
    }


@BROKEN_GROUP
def test_the_operator_redrives_no_execution_that_a_redrive_cannot_help(
    cloud: RunningLocalCloud, shop: Shop
) -> None:
    # When the operator asks to redrive the NEEDS_ATTENTION order's saga, and a confirmed one's
    attention = cli(
        *("ops.operator", "--aws-url", cloud.aws_url),
        *("redrive-execution", "--order", shop.attention),
    )
    confirmed = cli(
        *("ops.operator", "--aws-url", cloud.aws_url),
        *("redrive-execution", "--order", shop.confirmed, "--dry-run"),
    )

    # Then both are refused, each with its reason, and nothing was started
    assert attention.returncode == 1, attention.stderr
    refused = json.loads(attention.stdout)
    assert refused["action"] == "refuse"
    assert refused["executionArn"].endswith(f":{shop.attention}")
    assert "NeedsAttention Fail state" in refused["reason"]
    assert confirmed.returncode == 1, confirmed.stderr
    assert (
        json.loads(confirmed.stdout)["reason"] == "the execution is SUCCEEDED: nothing to redrive"
    )
    arn = cloud.status()["resources"]["OrderSagaStateMachine"]["physicalId"]
    names = [
        e["name"]
        for e in cloud.aws.stepfunctions.list_executions(stateMachineArn=arn)["executions"]
    ]
    assert sorted(names) == sorted(
        [
            shop.confirmed,
            shop.declined,
            shop.out_of_stock,
            shop.cancelled,
            shop.attention,
            shop.unregistered,
        ]
    )


# ---------------------------------------------------------------- broken on purpose
@BROKEN_GROUP
def test_the_checker_names_each_invariant_broken_on_purpose(
    cloud: RunningLocalCloud, deployment: Deployment, shop: Shop
) -> None:
    # Given every invariant held
    assert settled_report(deployment, shop).held

    # When 3 units of a SKU appear from nowhere, a summary disappears, and the notifications
    # service gives up on a registered customer's confirmation
    cloud.aws.dynamodb.update_item(
        TableName="InventoryTable",
        Key={"pk": {"S": f"PRODUCT#{shop.plenty}"}},
        UpdateExpression="SET stock = stock + :three",
        ExpressionAttributeValues={":three": {"N": "3"}},
    )
    cloud.aws.dynamodb.delete_item(
        TableName="OrderSummariesTable", Key={"pk": {"S": f"ORDER#{shop.confirmed}"}}
    )
    lost = bus_event(cloud, shop.confirmed, "OrderConfirmed")
    dead_letter(cloud, "NotificationsDeadLetterQueue", lost)
    report = check(deployment, options=options(shop))

    # Then each broken invariant is named, with the SKU or the order (and the event)
    assert not report.held
    broken = {name for name, result in report.invariants.items() if not result.held}
    assert broken == {
        "stock_conserved",
        "read_model_matches_event_store",
        "dead_letters_accounted_for",
    }
    (stock,) = report.invariants["stock_conserved"].violations
    assert stock.sku == shop.plenty
    assert "off by +3" in stock.message
    (summary,) = report.invariants["read_model_matches_event_store"].violations
    assert (summary.orderId, summary.message) == (shop.confirmed, "no summary")
    (letter,) = report.invariants["dead_letters_accounted_for"].violations
    assert (letter.queue, letter.orderId, letter.eventId) == (
        "NotificationsDeadLetterQueue",
        shop.confirmed,
        lost["detail"]["metadata"]["eventId"],
    )
    # and the command line exits 1, naming them
    run = cli("ops.invariants", "--aws-url", cloud.aws_url, "--settle-seconds", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"orderId={shop.confirmed}: no summary" in run.stdout
