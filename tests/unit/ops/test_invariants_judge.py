"""The invariant checker's judge (ops.invariants.judge) on snapshots built by hand: what holds,
and each violation named with its order, SKU or event. No AWS: the judge is pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inventory.models import ReservationItem, ReservationStatus, ReservedLineItem
from notifications.logic import is_handled
from notifications.models import SentItem
from ops.evidence import ChargeFact, Email, Evidence, ExecutionFact, QueueMessage, StreamRecord
from ops.invariants import INVARIANTS, CheckOptions, Report, judge
from orders.logic import fold
from orders.models import (
    DETAIL_TYPES,
    ORDER_SOURCE,
    PRODUCER,
    OrderCancellationRequestedData,
    OrderCancelledData,
    OrderConfirmedData,
    OrderEventData,
    OrderEventItem,
    OrderLine,
    OrderNeedsAttentionData,
    OrderPlacedData,
    OrderRejectedData,
)
from orders.read_model.models import OrderSummaryItem
from shop_shared.events import new_event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
CUSTOMER = "customer-1"
EMAIL = "erika@example.com"
SKU = "KB-001"
PRICE = 1250
ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"
OTHER = "0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"


def history(order_id: str, *later: OrderEventData, quantity: int = 2) -> list[OrderEventItem]:
    placed = OrderPlacedData(
        orderId=order_id, customerId=CUSTOMER, items=[OrderLine(sku=SKU, quantity=quantity)]
    )
    items = []
    for version, data in enumerate((placed, *later), start=1):
        event = new_event(
            source=ORDER_SOURCE,
            detail_type=DETAIL_TYPES[type(data)],
            data=data,
            correlation_id=order_id,
            producer=PRODUCER,
            occurred_at=T0 + timedelta(seconds=version),
        )
        items.append(
            OrderEventItem.of(event, order_id=order_id, version=version, customer_id=CUSTOMER)
        )
    return items


def confirmed(order_id: str, quantity: int = 2) -> OrderConfirmedData:
    return OrderConfirmedData(
        orderId=order_id, customerId=CUSTOMER, totalCents=quantity * PRICE, currency="EUR"
    )


def rejected(order_id: str) -> OrderRejectedData:
    return OrderRejectedData(
        orderId=order_id, customerId=CUSTOMER, reason="PAYMENT_DECLINED", message="Declined"
    )


def reservation(order_id: str, status: str, quantity: int = 2) -> ReservationItem:
    return ReservationItem(
        pk=f"RESERVATION#{order_id}",
        orderId=order_id,
        status=ReservationStatus(status),
        lines=[ReservedLineItem(sku=SKU, quantity=quantity, unitPriceCents=PRICE)],
        totalCents=quantity * PRICE,
        currency="EUR",
        createdAt=T0,
        updatedAt=T0,
    )


def charge(amount: int, *refunds: int) -> ChargeFact:
    return ChargeFact(
        chargeId=f"ch_{amount}", amountCents=amount, currency="EUR", refundedCents=list(refunds)
    )


def mailed(events: list[OrderEventItem], message_id: str) -> tuple[SentItem, Email]:
    """The SENT record and the SES message of the order's last event."""
    event = events[-1]
    sent = SentItem(
        pk=f"SENT#{event.eventId}",
        eventId=event.recorded().metadata.eventId,
        detailType=event.detailType,
        customerId=CUSTOMER,
        orderId=event.order_id,
        messageId=message_id,
        sentAt=T0,
    )
    subject = f"Your order {event.order_id} is confirmed"
    return sent, Email(messageId=message_id, destinations=[EMAIL], subject=subject)


def snapshot(**changes: Any) -> Evidence:
    """A shop with one CONFIRMED order of 2 (8 of 10 left), all in order; then `changes`."""
    events = history(ORDER, confirmed(ORDER))
    sent, email = mailed(events, "msg-1")
    base: dict[str, Any] = {
        "takenAt": NOW,
        "orderEvents": {ORDER: events},
        "products": {SKU: 8},
        "reservations": {ORDER: reservation(ORDER, "RESERVED")},
        "provider": {ORDER: [charge(2 * PRICE)]},
        "contacts": {CUSTOMER: EMAIL},
        "sent": [sent],
        "emails": [email],
        "executions": [
            ExecutionFact(
                workflow="OrderSaga", name=ORDER, executionArn=f"arn:{ORDER}", status="SUCCEEDED"
            )
        ],
        "operatorCases": [],
        "deadLetters": [],
    }
    merged = {**base, **changes}
    if "summaries" not in changes:  # the read model caught up with whatever the store holds
        merged["summaries"] = {
            order_id: OrderSummaryItem.of(folded)
            for order_id, events in merged["orderEvents"].items()
            if (folded := fold(event.recorded() for event in events)) is not None
        }
    return Evidence(**merged)


def check(evidence: Evidence, **options: Any) -> Report:
    return judge(evidence, CheckOptions(baseline={SKU: 10}, **options))


def broken(report: Report) -> dict[str, list[str]]:
    """Invariant -> the messages of its violations, for the invariants that did not hold."""
    return {
        name: [v.message for v in result.violations]
        for name, result in report.invariants.items()
        if not result.held
    }


# ---------------------------------------------------------------- all in order
def test_a_confirmed_order_with_everything_in_place_holds_every_invariant() -> None:
    report = check(snapshot())

    assert report.held, broken(report)
    assert list(report.invariants) == list(INVARIANTS)
    assert (report.orders, report.judged, report.inFlight) == (1, 1, [])


# ---------------------------------------------------------------- the bound
def test_an_order_pending_past_the_bound_is_a_violation_and_one_within_it_is_in_flight() -> None:
    # Given an order PENDING since T0 + 1 s, ten minutes ago
    evidence = snapshot(orderEvents={ORDER: history(ORDER)}, reservations={}, provider={})

    # Then with a 5-minute bound it is a violation; with a 15-minute one it is in flight
    late = check(evidence, bound_seconds=300)
    assert broken(late)["final_status_within_bound"] == [
        "PENDING for 599 s, longer than the bound of 300 s"
    ]
    early = check(evidence, bound_seconds=900)
    assert early.invariants["final_status_within_bound"].held
    assert [(f.orderId, f.status, f.why) for f in early.inFlight] == [(ORDER, "PENDING", "moving")]
    assert early.judged == 0


# ---------------------------------------------------------------- stock
def test_stock_that_appears_from_nowhere_is_named_by_sku() -> None:
    report = check(snapshot(products={SKU: 11}))

    (violation,) = report.invariants["stock_conserved"].violations
    assert violation.sku == SKU
    assert violation.message == "initial stock 10 != available 11 + held 2 (off by +3)"


def test_a_rejected_order_that_still_holds_stock_is_named_by_order() -> None:
    events = history(ORDER, rejected(ORDER))
    report = check(
        snapshot(
            orderEvents={ORDER: events},
            provider={ORDER: []},
            sent=[mailed(events, "msg-1")[0]],
        )
    )

    messages = [
        (v.orderId, v.sku, v.message) for v in report.invariants["stock_conserved"].violations
    ]
    # the order still reserves its 2 (so the SKU adds up: 8 on the shelf + 2 reserved = 10)
    assert messages == [(ORDER, None, "REJECTED but still reserves {'KB-001': 2}")]


def test_without_a_baseline_only_each_orders_reservation_is_judged() -> None:
    report = judge(snapshot(products={SKU: 11}), CheckOptions())

    assert report.invariants["stock_conserved"].held
    assert "per-SKU totals not judged" in report.invariants["stock_conserved"].notes[0]


# ---------------------------------------------------------------- money
def test_a_confirmed_order_charged_twice_and_a_rejected_one_charged_at_all_are_named() -> None:
    rejected_events = history(OTHER, rejected(OTHER))
    report = check(
        snapshot(
            orderEvents={ORDER: history(ORDER, confirmed(ORDER)), OTHER: rejected_events},
            provider={ORDER: [charge(2 * PRICE), charge(2 * PRICE)], OTHER: [charge(500, 200)]},
            reservations={
                ORDER: reservation(ORDER, "RESERVED"),
                OTHER: reservation(OTHER, "RELEASED"),
            },
            products={SKU: 8},
        )
    )

    assert [(v.orderId, v.message) for v in report.invariants["money_conserved"].violations] == [
        (OTHER, "REJECTED but 300 net charged"),
        (ORDER, "CONFIRMED at 2500 EUR but net charged 5000 EUR"),
    ]


def test_a_needs_attention_order_is_listed_with_its_case_and_without_one_is_a_violation() -> None:
    attention = OrderNeedsAttentionData(
        orderId=ORDER,
        customerId=CUSTOMER,
        failedStep="RefundPayment",
        error="PaymentProviderUnavailable",
        message="The refund could not be made",
        failedSteps=["RefundPayment"],
    )
    case = QueueMessage(
        queue="OperatorQueue",
        messageId="m-1",
        body={
            "workflow": "OrderSaga",
            "orderId": ORDER,
            "executionArn": f"arn:{ORDER}",
            "compensationErrors": {"RefundPayment": {"Error": "PaymentProviderUnavailable"}},
            "error": {"Error": "ShippingUnavailable"},
        },
        receiveCount=2,
    )
    evidence = snapshot(
        orderEvents={ORDER: history(ORDER, attention)},
        reservations={ORDER: reservation(ORDER, "RELEASED")},
        products={SKU: 10},
        sent=[],
        emails=[],
    )

    listed = check(evidence.model_copy(update={"operatorCases": [case]}))
    assert listed.held, broken(listed)
    (order,) = listed.needsAttention
    assert (order.orderId, order.failedSteps, order.netChargedCents) == (
        ORDER,
        ["RefundPayment"],
        2 * PRICE,
    )
    assert [(c.queue, c.workflow, c.failedSteps, c.error) for c in order.cases] == [
        ("OperatorQueue", "OrderSaga", ["RefundPayment"], "ShippingUnavailable")
    ]
    unlisted = check(evidence)
    assert broken(unlisted) == {
        "money_conserved": ["NEEDS_ATTENTION with no case on OperatorQueue"]
    }


# ---------------------------------------------------------------- emails
def test_a_missing_email_and_a_second_unrecorded_one_are_named() -> None:
    missing = check(snapshot(sent=[], emails=[]))
    assert broken(missing) == {"one_email_per_final_status": ["no email for OrderConfirmed"]}

    _, email = mailed(history(ORDER, confirmed(ORDER)), "msg-2")
    twice = check(snapshot(emails=[*(snapshot().emails or []), email]))
    (violation,) = twice.invariants["one_email_per_final_status"].violations
    assert (violation.orderId, violation.message) == (
        ORDER,
        "2 emails sent for 1 owed: the same sent again",
    )


def test_an_email_sent_but_not_recorded_is_no_missing_email() -> None:
    # Given SES sent the confirmation, but notifications did not write its SENT record (a
    # crash between the two)
    report = check(snapshot(sent=[]))

    # Then the customer has their one email: it holds, with a note
    assert report.invariants["one_email_per_final_status"].held
    assert report.invariants["one_email_per_final_status"].notes == [
        f"{ORDER}: 1 email(s) sent without a SENT record"
    ]


def test_a_customer_who_never_registered_gets_no_email_and_that_holds() -> None:
    report = check(snapshot(contacts={}, sent=[], emails=[]))

    assert report.invariants["one_email_per_final_status"].held
    assert "never registered" in report.invariants["one_email_per_final_status"].notes[-1]


def test_a_cancelled_order_owes_only_the_emails_notifications_sends() -> None:
    events = history(
        ORDER,
        confirmed(ORDER),
        OrderCancellationRequestedData(orderId=ORDER, customerId=CUSTOMER),
        OrderCancelledData(orderId=ORDER, customerId=CUSTOMER),
    )
    owed = [
        mailed(events[: index + 1], f"msg-{index}")
        for index, event in enumerate(events)
        if is_handled(event.detailType)
    ]
    report = check(
        snapshot(
            orderEvents={ORDER: events},
            reservations={ORDER: reservation(ORDER, "RELEASED")},
            provider={ORDER: [charge(2 * PRICE, 2 * PRICE)]},
            products={SKU: 10},
            sent=[sent for sent, _ in owed],
            emails=[email for _, email in owed],
        )
    )

    assert report.held, broken(report)


# ---------------------------------------------------------------- executions
@pytest.mark.parametrize(
    ("second_did_work", "held"), [(True, False), (False, True)], ids=["did work", "claim guard"]
)
def test_a_second_execution_of_an_order_is_a_violation_only_when_it_did_work(
    second_did_work: bool, held: bool
) -> None:
    executions = [
        ExecutionFact(
            workflow="OrderSaga", name=ORDER, executionArn=f"arn:{n}", status="SUCCEEDED", didWork=w
        )
        for n, w in ((1, True), (2, second_did_work))
    ]
    report = check(snapshot(executions=executions))

    assert report.invariants["one_saga_execution_per_order"].held is held
    if not held:
        assert broken(report)["one_saga_execution_per_order"] == [
            f"2 OrderSaga executions named {ORDER} did work (SUCCEEDED, SUCCEEDED)"
        ]


# ---------------------------------------------------------------- the read model
def test_a_summary_behind_the_event_store_is_named_with_what_differs() -> None:
    behind = fold(event.recorded() for event in history(ORDER))
    assert behind is not None
    report = check(snapshot(summaries={ORDER: OrderSummaryItem.of(behind)}))

    (violation,) = report.invariants["read_model_matches_event_store"].violations
    assert violation.orderId == ORDER
    assert "status 'PENDING', rebuilt 'CONFIRMED'" in violation.message
    assert "version 1, rebuilt 2" in violation.message
    missing = check(snapshot(summaries={}))
    assert broken(missing) == {"read_model_matches_event_store": ["no summary"]}


# ---------------------------------------------------------------- dead letters
def bus_event(detail_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "bus-1",
        "source": "shop.orders",
        "detail-type": detail_type,
        "detail": {"metadata": {"eventId": "event-1"}, "data": data},
    }


def test_dead_letters_are_violations_unless_an_expected_case() -> None:
    order_event = bus_event("OrderConfirmed", {"orderId": ORDER, "customerId": CUSTOMER})
    stranger_event = bus_event("OrderConfirmed", {"orderId": OTHER, "customerId": "stranger"})
    stream_batch = {
        "DDBStreamBatchInfo": {
            "streamArn": "arn:stream",
            "startSequenceNumber": "100",
            "endSequenceNumber": "101",
        }
    }
    letters = [
        QueueMessage(queue="OrderSummariesDeadLetterQueue", messageId="a", body=order_event),
        QueueMessage(queue="NotificationsDeadLetterQueue", messageId="b", body=stranger_event),
        QueueMessage(queue="OrdersStreamFailureQueue", messageId="c", body=stream_batch),
    ]
    result = check(snapshot(deadLetters=letters)).invariants["dead_letters_accounted_for"]

    assert [(v.queue, v.orderId, v.eventId) for v in result.violations] == [
        ("OrderSummariesDeadLetterQueue", ORDER, "event-1"),
        ("OrdersStreamFailureQueue", None, None),
    ]
    assert "100..101 of arn:stream" in result.violations[1].message
    (accounted,) = result.accounted
    assert (accounted.queue, accounted.orderId) == ("NotificationsDeadLetterQueue", OTHER)
    assert "never registered" in accounted.reason


def test_a_stream_batch_given_up_on_is_accounted_for_only_where_its_workflow_ran_since() -> None:
    # Given the saga starter gave up on two records: this order's OrderPlaced (its saga ran
    # since: the sweeper started it) and another's (no saga ever ran)
    batch = {
        "DDBStreamBatchInfo": {
            "streamArn": "arn:stream",
            "shardId": "shard-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "101",
        }
    }
    records = [
        StreamRecord(key=f"ORDER#{o}", orderId=o, eventId=f"placed-{o}", detailType="OrderPlaced")
        for o in (ORDER, OTHER)
    ]
    letter = QueueMessage(
        queue="OrdersStreamFailureQueue", messageId="m", body=batch, records=records
    )
    result = check(snapshot(deadLetters=[letter])).invariants["dead_letters_accounted_for"]

    (accounted,) = result.accounted
    assert (accounted.orderId, accounted.eventId) == (ORDER, f"placed-{ORDER}")
    assert accounted.reason == "OrderPlaced was given up on, but its OrderSaga ran since"
    (violation,) = result.violations
    assert (violation.orderId, violation.eventId) == (OTHER, f"placed-{OTHER}")
    assert violation.message == "OrderPlaced in records 100..101 of arn:stream was never handled"


@pytest.mark.parametrize(
    ("claimant", "held"), [("arn:1", True), (None, False)], ids=["claimed by one", "no claim"]
)
def test_express_duplicates_without_a_readable_history_are_judged_by_the_claim(
    claimant: str | None, held: bool
) -> None:
    # Given two Express executions of the order's saga, whose histories Step Functions refuses
    executions = [
        ExecutionFact(workflow="OrderSaga", name=ORDER, executionArn=arn, status="SUCCEEDED")
        for arn in ("arn:1", "arn:2")
    ]
    claims = {"OrderSaga": {ORDER: claimant}} if claimant else {}

    # Then the one that claimed the order did work and the other ended at AlreadyClaimed;
    # without a claim record both count as working
    report = check(snapshot(executions=executions, claims=claims))
    assert report.invariants["one_saga_execution_per_order"].held is held
