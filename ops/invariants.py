"""The shop's invariants, judged on a snapshot of a running shop (AWS or localcloud).

    python -m ops.invariants --aws-url http://127.0.0.1:4566 [--order ID] [--json]
    make invariants [ARGS="--baseline stock.json --bound-seconds 600"]

Each invariant reports `held` and its violations, each naming the order (or SKU, event, queue):

- `final_status_within_bound`: no order is PENDING or CANCELLING longer than the bound.
- `stock_conserved`: each order's reservation matches its status (CONFIRMED holds its lines,
  REJECTED and CANCELLED hold nothing); with a baseline (SKU -> stock when it was put), per SKU:
  baseline = available + units held by CONFIRMED orders (+ units still reserved by orders in
  flight or waiting for an operator). Inventory keeps no "initial stock": `PUT /products/{sku}`
  sets the on-hand stock, so only the caller knows what it put.
- `money_conserved`: at the payment provider (charges minus refunds, by reference = order id),
  CONFIRMED orders are charged their total, REJECTED and CANCELLED ones nothing; every
  NEEDS_ATTENTION order has its case on OperatorQueue (or its dead-letter queue).
- `one_email_per_final_status`: one email per order event the notifications service mails
  (its CONSUMED_EVENTS: OrderConfirmed, OrderRejected; a CANCELLED order had its confirmation),
  none twice, none missing; a customer who never registered has no contact and gets none.
- `one_saga_execution_per_order`: at most one saga (and one cancellation) execution per order
  that did work (called a function, by its history; for Express executions, whose history is
  not readable, the one that claimed the order at ClaimOrder); a duplicate start the claim
  guard ended does none.
- `read_model_matches_event_store`: every summary equals the one the rebuild
  (`orders.read_model.logic.rebuild_summaries`) makes from the event store.
- `dead_letters_accounted_for`: every message in a dead-letter or on-failure queue is a case
  the report names as accounted for (an operator case of a NEEDS_ATTENTION order; an email
  event of a customer who never registered), else a violation naming its order and event.

Orders still within the bound (PENDING, CANCELLING) or that changed less than `settle` seconds
ago are in flight: listed, and judged only by the bound. The judge (`judge`) is pure; the
snapshot comes from `ops.evidence.gather`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inventory.models import ReservationItem, ReservationStatus
from notifications.logic import is_handled
from notifications.models import SentItem
from ops.deployment import OPERATOR_QUEUE, Deployment, discover
from ops.evidence import (
    CANCELLATION_PREFIX,
    CANCELLATION_WORKFLOW,
    SAGA_WORKFLOW,
    Email,
    Evidence,
    ExecutionFact,
    QueueMessage,
    contacts,
    gather,
    order_events,
    peek,
    sent_records,
)
from orders.errors import CorruptOrderHistory
from orders.logic import fold
from orders.models import Order, OrderEventItem, OrderNeedsAttentionData
from orders.read_model.logic import rebuild_summaries
from orders.read_model.models import HeldSummary, OrderSummaryItem, SummaryPage
from orders.read_model.repository import OrderSummaryStore
from orders.repository import OrderEventStore
from shop_shared.observability import logger as service_logger

log = logging.getLogger("ops.invariants")

FINAL_STATUSES = frozenset({"CONFIRMED", "REJECTED", "CANCELLED", "NEEDS_ATTENTION"})
MOVING_STATUSES = frozenset({"PENDING", "CANCELLING"})
NOTHING_HELD = frozenset({"REJECTED", "CANCELLED"})
DEFAULT_BOUND_SECONDS = 300.0
DEFAULT_SETTLE_SECONDS = 10.0

FINAL_STATUS = "final_status_within_bound"
STOCK = "stock_conserved"
MONEY = "money_conserved"
EMAILS = "one_email_per_final_status"
EXECUTIONS = "one_saga_execution_per_order"
READ_MODEL = "read_model_matches_event_store"
DEAD_LETTERS = "dead_letters_accounted_for"
NOTIFICATIONS_QUEUE = "NotificationsQueue"
INVARIANTS = (FINAL_STATUS, STOCK, MONEY, EMAILS, EXECUTIONS, READ_MODEL, DEAD_LETTERS)


# ---------------------------------------------------------------- the report


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: str
    orderId: str | None = Field(default=None, exclude_if=lambda value: value is None)
    sku: str | None = Field(default=None, exclude_if=lambda value: value is None)
    eventId: str | None = Field(default=None, exclude_if=lambda value: value is None)
    queue: str | None = Field(default=None, exclude_if=lambda value: value is None)


class Accounted(BaseModel):
    """A message in a dead-letter queue that is an expected case, and why."""

    model_config = ConfigDict(frozen=True)

    queue: str
    messageId: str
    reason: str
    orderId: str | None = None
    eventId: str | None = None


class InvariantResult(BaseModel):
    held: bool
    observed: bool = True  # False: this deployment does not show what the invariant is about
    violations: list[Violation] = []
    accounted: list[Accounted] = []
    notes: list[str] = []


class InFlight(BaseModel):
    orderId: str
    status: str
    ageSeconds: float
    why: str


class OperatorCase(BaseModel):
    queue: str
    messageId: str
    workflow: str | None = None
    executionArn: str | None = None
    failedSteps: list[str] = []
    error: str | None = None
    receiveCount: int = 0


class AttentionOrder(BaseModel):
    """A NEEDS_ATTENTION order, with what failed and its case(s) on the operator queue."""

    orderId: str
    customerId: str
    failedSteps: list[str]
    error: str | None
    message: str | None
    netChargedCents: int | None
    cases: list[OperatorCase]


class Report(BaseModel):
    checkedAt: datetime
    scope: str | None
    orders: int
    judged: int
    held: bool
    invariants: dict[str, InvariantResult]
    inFlight: list[InFlight]
    needsAttention: list[AttentionOrder]
    notes: list[str] = []

    def violations(self) -> list[tuple[str, Violation]]:
        return [
            (name, violation)
            for name, result in self.invariants.items()
            for violation in result.violations
        ]


class CheckOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    bound_seconds: float = Field(default=DEFAULT_BOUND_SECONDS, gt=0)
    settle_seconds: float = Field(default=DEFAULT_SETTLE_SECONDS, ge=0)
    baseline: dict[str, int] | None = None  # SKU -> stock when it was put


# ---------------------------------------------------------------- the judge


def judge(evidence: Evidence, options: CheckOptions | None = None) -> Report:
    """Every invariant on one snapshot. Pure: the same evidence gives the same report."""
    options = options or CheckOptions()
    final_status = InvariantResult(held=True)
    orders, corrupt = fold_orders(evidence)
    final_status.violations.extend(corrupt)

    in_flight, overdue = orders_in_flight(orders, evidence.takenAt, options)
    final_status.violations.extend(overdue)
    moving = {flight.orderId for flight in in_flight if flight.why == "moving"}
    settling = {flight.orderId for flight in in_flight}
    final = {i: o for i, o in orders.items() if o.status in FINAL_STATUSES and i not in moving}
    settled = {i: o for i, o in final.items() if i not in settling}

    invariants = {
        FINAL_STATUS: _result(final_status),
        STOCK: judge_stock(evidence, orders, final, options),
        MONEY: judge_money(evidence, final),
        EMAILS: judge_emails(evidence, settled),
        EXECUTIONS: judge_executions(evidence, final),
        READ_MODEL: judge_read_model(evidence, orders, settling),
        DEAD_LETTERS: judge_dead_letters(evidence, orders),
    }
    return Report(
        checkedAt=evidence.takenAt,
        scope=evidence.scope,
        orders=len(evidence.orderEvents),
        judged=len(final),
        held=all(result.held for result in invariants.values()),
        invariants=invariants,
        inFlight=sorted(in_flight, key=lambda flight: flight.orderId),
        needsAttention=attention_orders(evidence, orders),
        notes=list(evidence.notes),
    )


def orders_in_flight(
    orders: dict[str, Order], now: datetime, options: CheckOptions
) -> tuple[list[InFlight], list[Violation]]:
    """The orders still moving within the bound or settling, and those moving past it."""
    in_flight: list[InFlight] = []
    overdue: list[Violation] = []
    for order in orders.values():
        since = order.createdAt if order.status == "PENDING" else order.updatedAt
        age = (now - since).total_seconds()
        if order.status in MOVING_STATUSES and age > options.bound_seconds:
            overdue.append(
                Violation(
                    orderId=order.orderId,
                    message=(
                        f"{order.status} for {age:.0f} s, longer than the bound of "
                        f"{options.bound_seconds:.0f} s"
                    ),
                )
            )
        elif order.status in MOVING_STATUSES or age < options.settle_seconds:
            why = "moving" if order.status in MOVING_STATUSES else "settling"
            in_flight.append(
                InFlight(orderId=order.orderId, status=order.status, ageSeconds=age, why=why)
            )
    return in_flight, overdue


def fold_orders(evidence: Evidence) -> tuple[dict[str, Order], list[Violation]]:
    """Every order's state, folded by the orders service's own fold; a history the fold refuses
    is a violation instead."""
    orders: dict[str, Order] = {}
    corrupt: list[Violation] = []
    for order_id, events in evidence.orderEvents.items():
        try:
            order = fold(event.recorded() for event in events)
        except CorruptOrderHistory as error:
            corrupt.append(
                Violation(orderId=order_id, message=f"the history does not fold: {error}")
            )
            continue
        if order is not None:
            orders[order_id] = order
    return orders, corrupt


def _result(result: InvariantResult) -> InvariantResult:
    return result.model_copy(update={"held": not result.violations})


def _lines(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for sku, quantity in pairs:
        totals[sku] += quantity
    return dict(totals)


# ---------------------------------------------------------------- stock


def judge_stock(
    evidence: Evidence,
    orders: dict[str, Order],
    final: dict[str, Order],
    options: CheckOptions,
) -> InvariantResult:
    result = InvariantResult(held=True)
    for order_id, order in sorted(final.items()):
        problem = _reservation_problem(order, evidence.reservations.get(order_id))
        if problem:
            result.violations.append(Violation(orderId=order_id, message=problem))
    if evidence.scope is None:
        for order_id, reservation in sorted(evidence.reservations.items()):
            if order_id not in orders and reservation.status == ReservationStatus.RESERVED:
                result.violations.append(
                    Violation(
                        orderId=order_id,
                        message="stock reserved for an order the event store does not hold",
                    )
                )
    if options.baseline is None or evidence.scope is not None:
        result.notes.append(
            "per-SKU totals not judged: they need every order and a baseline (--baseline)"
        )
        return _result(result)
    result.violations.extend(_sku_violations(evidence, orders, options.baseline))
    unjudged = sorted(set(evidence.products) - set(options.baseline))
    if unjudged:
        result.notes.append(f"{len(unjudged)} SKUs without a baseline were not judged")
    return _result(result)


def _reserved_lines(reservation: ReservationItem) -> dict[str, int]:
    return _lines((line.sku, line.quantity) for line in reservation.lines)


def _reservation_problem(order: Order, reservation: ReservationItem | None) -> str | None:
    """What is wrong with a final order's reservation, if anything."""
    reserved = reservation is not None and reservation.status == ReservationStatus.RESERVED
    if order.status == "CONFIRMED":
        wanted = _lines((line.sku, line.quantity) for line in order.items)
        if reservation is None or not reserved:
            return "CONFIRMED but its stock is not reserved"
        if _reserved_lines(reservation) != wanted:
            return f"CONFIRMED for {wanted} but reserves {_reserved_lines(reservation)}"
    elif order.status in NOTHING_HELD and reservation is not None and reserved:
        return f"{order.status} but still reserves {_reserved_lines(reservation)}"
    return None


def _sku_violations(
    evidence: Evidence, orders: dict[str, Order], baseline: dict[str, int]
) -> list[Violation]:
    """Per SKU: initial = available + units held by CONFIRMED orders (+ units still reserved by
    orders in flight, waiting for an operator, or wrongly: those are named per order)."""
    held: dict[str, int] = defaultdict(int)
    for order in orders.values():
        if order.status == "CONFIRMED":
            for line in order.items:
                held[line.sku] += line.quantity
    for order_id, reservation in evidence.reservations.items():
        status = orders[order_id].status if order_id in orders else None
        if reservation.status == ReservationStatus.RESERVED and status != "CONFIRMED":
            for sku, quantity in _reserved_lines(reservation).items():
                held[sku] += quantity
    violations: list[Violation] = []
    for sku, initial in sorted(baseline.items()):
        available = evidence.products.get(sku)
        if available is None:
            violations.append(Violation(sku=sku, message="the product is gone"))
        elif initial != available + held[sku]:
            violations.append(
                Violation(
                    sku=sku,
                    message=(
                        f"initial stock {initial} != available {available} + held {held[sku]} "
                        f"(off by {available + held[sku] - initial:+d})"
                    ),
                )
            )
    return violations


# ---------------------------------------------------------------- money


def _net(evidence: Evidence, order_id: str) -> int | None:
    if evidence.provider is None:
        return None
    return sum(charge.net_cents for charge in evidence.provider.get(order_id, []))


def judge_money(evidence: Evidence, final: dict[str, Order]) -> InvariantResult:
    result = InvariantResult(held=True)
    cases = _cases_by_order(evidence.operatorCases)
    for order_id, order in sorted(final.items()):
        if order.status == "NEEDS_ATTENTION":
            if not cases.get(order_id):
                result.violations.append(
                    Violation(
                        orderId=order_id, message="NEEDS_ATTENTION with no case on OperatorQueue"
                    )
                )
            continue
        if evidence.provider is None:
            continue
        charges = evidence.provider.get(order_id, [])
        net = sum(charge.net_cents for charge in charges)
        if order.status == "CONFIRMED":
            currencies = {charge.currency for charge in charges}
            if net != order.totalCents or (charges and currencies != {order.currency}):
                result.violations.append(
                    Violation(
                        orderId=order_id,
                        message=(
                            f"CONFIRMED at {order.totalCents} {order.currency} but net charged "
                            f"{net} {'/'.join(sorted(currencies)) or ''}".rstrip()
                        ),
                    )
                )
        elif net != 0:
            result.violations.append(
                Violation(orderId=order_id, message=f"{order.status} but {net} net charged")
            )
    if evidence.scope is None:
        for order_id in sorted(
            set(cases) - {i for i, o in final.items() if o.status == "NEEDS_ATTENTION"}
        ):
            status = final[order_id].status if order_id in final else "not final"
            result.violations.append(
                Violation(
                    orderId=order_id, message=f"a case on OperatorQueue for an order {status}"
                )
            )
    if evidence.provider is None:
        result.observed = False
        result.notes.append("the provider's ledger was not observed")
    return _result(result)


def _cases_by_order(messages: list[QueueMessage]) -> dict[str, list[QueueMessage]]:
    cases: dict[str, list[QueueMessage]] = defaultdict(list)
    for message in messages:
        body = message.body
        if isinstance(body, dict) and isinstance(body.get("orderId"), str):
            cases[body["orderId"]].append(message)
    return cases


def attention_orders(evidence: Evidence, orders: dict[str, Order]) -> list[AttentionOrder]:
    cases = _cases_by_order(evidence.operatorCases)
    attention: list[AttentionOrder] = []
    for order_id, order in sorted(orders.items()):
        if order.status != "NEEDS_ATTENTION":
            continue
        data = next(
            (
                recorded.data
                for recorded in (event.recorded() for event in evidence.orderEvents[order_id])
                if isinstance(recorded.data, OrderNeedsAttentionData)
            ),
            None,
        )
        attention.append(
            AttentionOrder(
                orderId=order_id,
                customerId=order.customerId,
                failedSteps=list(data.failedSteps) if data else [],
                error=data.error if data else None,
                message=data.message if data else None,
                netChargedCents=_net(evidence, order_id),
                cases=[operator_case(message) for message in cases.get(order_id, [])],
            )
        )
    return attention


def operator_case(message: QueueMessage) -> OperatorCase:
    body = message.body if isinstance(message.body, dict) else {}
    error = body.get("error")
    return OperatorCase(
        queue=message.queue,
        messageId=message.messageId,
        workflow=body.get("workflow"),
        executionArn=body.get("executionArn"),
        failedSteps=list(body.get("compensationErrors") or {}),
        error=error.get("Error") if isinstance(error, dict) else None,
        receiveCount=message.receiveCount,
    )


# ---------------------------------------------------------------- emails


def judge_emails(evidence: Evidence, settled: dict[str, Order]) -> InvariantResult:
    """Per order, the emails owed (one per event notifications mails, none without a contact)
    against the emails sent: SES's sent mail where it is observable (each email is the order's
    by its SENT record, or, sent without one, by the order id in its subject), else the SENT
    records notifications keeps."""
    result = InvariantResult(held=True)
    records = {record.eventId: record for record in evidence.sent}
    emails = (
        {email.messageId: email for email in evidence.emails}
        if evidence.emails is not None
        else None
    )
    unrecorded = _unrecorded_emails(evidence, settled)
    unregistered = 0
    for order_id, order in sorted(settled.items()):
        contact = evidence.contacts.get(order.customerId)
        unregistered += contact is None
        owed = [e for e in evidence.orderEvents[order_id] if is_handled(e.detailType)]
        if contact is None:
            owed_none = [e for e in owed if _event_id(e) in records]
            result.violations.extend(
                Violation(
                    orderId=order_id,
                    eventId=_event_id(event),
                    message=f"{event.detailType} mailed to a customer with no contact",
                )
                for event in owed_none
            )
            continue
        missing, misaddressed = _unsent(owed, contact, records, emails)
        result.violations.extend(
            Violation(orderId=order_id, eventId=_event_id(event), message=message)
            for event, message in misaddressed
        )
        if evidence.emails is None:
            result.violations.extend(
                Violation(
                    orderId=order_id, eventId=_event_id(e), message=f"no email for {e.detailType}"
                )
                for e in missing
            )
            continue
        without_record = unrecorded.get(order_id, [])
        sent = len(owed) - len(missing) + len(without_record)
        if sent < len(owed):
            result.violations.extend(
                Violation(
                    orderId=order_id, eventId=_event_id(e), message=f"no email for {e.detailType}"
                )
                for e in missing[len(without_record) :]
            )
        elif sent > len(owed):
            result.violations.append(
                Violation(
                    orderId=order_id,
                    message=f"{sent} emails sent for {len(owed)} owed: the same sent again",
                )
            )
        elif missing:
            result.notes.append(f"{order_id}: {len(missing)} email(s) sent without a SENT record")
    if evidence.emails is None:
        result.notes.append("SES's sent mail not observable: judged by the SENT records only")
    if unregistered:
        result.notes.append(
            f"{unregistered} orders of customers who never registered: no contact, no email "
            "(notifications has no address)"
        )
    return _result(result)


def _unsent(
    owed: list[OrderEventItem],
    contact: str,
    records: dict[str, SentItem],
    emails: dict[str, Email] | None,
) -> tuple[list[OrderEventItem], list[tuple[OrderEventItem, str]]]:
    """The owed events with no recorded email (or, where SES is observable, whose recorded
    email SES did not send), and those mailed to another address than the contact."""
    missing: list[OrderEventItem] = []
    misaddressed: list[tuple[OrderEventItem, str]] = []
    for event in owed:
        record = records.get(_event_id(event))
        email = emails.get(record.messageId) if record and emails is not None else None
        if record is None or (emails is not None and email is None):
            missing.append(event)
        elif email is not None and email.destinations != [contact]:
            misaddressed.append(
                (event, f"{event.detailType} mailed to {email.destinations}, not the contact")
            )
    return missing, misaddressed


def _unrecorded_emails(evidence: Evidence, settled: dict[str, Order]) -> dict[str, list[Email]]:
    """Emails SES sent that notifications has no SENT record of, by the order their subject
    names (notifications writes the record after the send: a crash between them, then a
    redelivery, sends again)."""
    recorded = {record.messageId for record in evidence.sent}
    about: dict[str, list[Email]] = defaultdict(list)
    for email in evidence.emails or []:
        if email.messageId in recorded:
            continue
        for order_id in settled:
            if order_id in (email.subject or ""):
                about[order_id].append(email)
    return about


def _event_id(event: OrderEventItem) -> str:
    return event.recorded().metadata.eventId


# ---------------------------------------------------------------- executions


def judge_executions(evidence: Evidence, final: dict[str, Order]) -> InvariantResult:
    if evidence.executions is None:
        return InvariantResult(
            held=True, observed=False, notes=["executions not observable (EXPRESS workflows)"]
        )
    result = InvariantResult(held=True)
    by_name: dict[tuple[str, str], list[ExecutionFact]] = defaultdict(list)
    for execution in evidence.executions:
        by_name[(execution.workflow, execution.name)].append(execution)
    for (workflow, name), executions in sorted(by_name.items()):
        order_id = (
            name.removeprefix(CANCELLATION_PREFIX) if workflow == CANCELLATION_WORKFLOW else name
        )
        if order_id not in final or len(executions) < 2:
            continue
        claimant = evidence.claims.get(workflow, {}).get(order_id)
        working = [e for e in executions if _did_work(e, claimant)]
        if len(working) > 1:
            result.violations.append(
                Violation(
                    orderId=order_id,
                    message=(
                        f"{len(working)} {workflow} executions named {name} did work "
                        f"({', '.join(sorted(e.status for e in working))})"
                    ),
                )
            )
        elif len(executions) > 1:
            result.notes.append(
                f"{name}: {len(executions) - 1} duplicate {workflow} start(s) ended without work"
            )
    missing = sorted(
        order_id
        for order_id in final
        if (SAGA_WORKFLOW, order_id) not in by_name and evidence.scope is None
    )
    if missing:
        result.notes.append(f"{len(missing)} final orders without a listed saga execution")
    return _result(result)


def _did_work(execution: ExecutionFact, claimant: str | None) -> bool:
    """Whether an execution did work: from its history when readable; else (Express) from the
    claim record: only the execution that claimed the order's workflow passes ClaimOrder, any
    other ends at AlreadyClaimed; with neither, it is counted as working."""
    if execution.didWork is not None:
        return execution.didWork
    if claimant is not None:
        return execution.executionArn == claimant
    return True


# ---------------------------------------------------------------- the read model


class _StoreOfEvidence(OrderEventStore):
    """The event store as the snapshot holds it (read-only), for the rebuild."""

    def __init__(self, events: dict[str, list[OrderEventItem]]) -> None:
        self._events = events

    def history(self, order_id: str) -> list[OrderEventItem]:
        return list(self._events.get(order_id, []))

    def append(self, item: OrderEventItem) -> None:
        raise TypeError("the checker's event store is read-only")


class _RebuiltSummaries(OrderSummaryStore):
    """Where the rebuild writes: in memory, so the live read model is compared, not touched."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}

    def held(self, order_id: str) -> HeldSummary | None:
        order = self.orders.get(order_id)
        return HeldSummary(version=order.version, order=order) if order else None

    def save(self, order: Order, *, replace_same_version: bool = False) -> bool:
        self.orders[order.orderId] = order
        return True

    def page(self, customer_id: str, *, limit: int, after: str | None) -> SummaryPage:
        raise TypeError("the checker's rebuilt summaries are not paged")


def judge_read_model(
    evidence: Evidence, orders: dict[str, Order], in_flight: set[str]
) -> InvariantResult:
    result = InvariantResult(held=True)
    rebuilt = _RebuiltSummaries()
    rebuild_summaries(
        sorted(orders), store=_StoreOfEvidence(evidence.orderEvents), summaries=rebuilt
    )
    for order_id, order in sorted(rebuilt.orders.items()):
        if order_id in in_flight:
            continue
        live = evidence.summaries.get(order_id)
        if live is None:
            result.violations.append(Violation(orderId=order_id, message="no summary"))
            continue
        differences = _summary_differences(live, OrderSummaryItem.of(order))
        if differences:
            result.violations.append(
                Violation(
                    orderId=order_id,
                    message=f"the summary differs from the rebuild: {'; '.join(differences)}",
                )
            )
    if evidence.scope is None:
        for order_id in sorted(set(evidence.summaries) - set(evidence.orderEvents)):
            result.violations.append(
                Violation(orderId=order_id, message="a summary of an order the store does not hold")
            )
    return _result(result)


def _summary_differences(live: OrderSummaryItem, rebuilt: OrderSummaryItem) -> list[str]:
    shown = live.model_dump(exclude={"state"})
    wanted = rebuilt.model_dump(exclude={"state"})
    differences = [
        f"{name} {shown.get(name)!r}, rebuilt {value!r}"
        for name, value in wanted.items()
        if shown.get(name) != value
    ]
    held = live.held().order
    if held is None:
        differences.append("the folded state is not readable")
    elif held != Order.model_validate_json(rebuilt.state):
        differences.append("the folded state differs")
    return differences


# ---------------------------------------------------------------- dead letters


def judge_dead_letters(evidence: Evidence, orders: dict[str, Order]) -> InvariantResult:
    result = InvariantResult(held=True)
    for message in evidence.deadLetters:
        accounted, violations = classify_dead_letter(message, evidence, orders)
        result.accounted.extend(accounted)
        result.violations.extend(violations)
    return _result(result)


def classify_dead_letter(
    message: QueueMessage, evidence: Evidence, orders: dict[str, Order]
) -> tuple[list[Accounted], list[Violation]]:
    """What a dead letter is about (its order, its event), and whether it is an expected case."""
    body = message.body if isinstance(message.body, dict) else {}
    if "workflow" in body and isinstance(body.get("orderId"), str):
        return _operator_case_letter(message, body["orderId"], orders)
    detail = body.get("detail")
    if "detail-type" in body and isinstance(detail, dict):
        return _bus_event_letter(message, body, detail, evidence)
    if isinstance(body.get("DDBStreamBatchInfo"), dict):
        return _stream_batch_letter(message, body["DDBStreamBatchInfo"], evidence, orders)
    return [], [
        Violation(queue=message.queue, message=f"an unrecognised message {message.messageId}")
    ]


def _operator_case_letter(
    message: QueueMessage, order_id: str, orders: dict[str, Order]
) -> tuple[list[Accounted], list[Violation]]:
    status = orders[order_id].status if order_id in orders else "unknown"
    if status == "NEEDS_ATTENTION":
        reason = (
            f"operator case of a NEEDS_ATTENTION order, moved here after {message.receiveCount} "
            "receives (redrive it to OperatorQueue)"
        )
        return [
            Accounted(
                queue=message.queue, messageId=message.messageId, orderId=order_id, reason=reason
            )
        ], []
    return [], [
        Violation(
            queue=message.queue,
            orderId=order_id,
            message=f"an operator case for an order that is {status}",
        )
    ]


def _bus_event_letter(
    message: QueueMessage, body: dict[str, Any], detail: dict[str, Any], evidence: Evidence
) -> tuple[list[Accounted], list[Violation]]:
    """A bus event a consumer gave up on."""
    metadata, data = detail.get("metadata") or {}, detail.get("data") or {}
    event_id, order_id, detail_type = (
        metadata.get("eventId"),
        data.get("orderId"),
        body["detail-type"],
    )
    if (
        is_handled(detail_type)
        and isinstance(order_id, str)
        and data.get("customerId") not in evidence.contacts
    ):
        reason = f"{detail_type} for a customer who never registered: notifications has no address"
        return [
            Accounted(
                queue=message.queue,
                messageId=message.messageId,
                orderId=order_id,
                eventId=event_id,
                reason=reason,
            )
        ], []
    return [], [
        Violation(
            queue=message.queue,
            orderId=order_id,
            eventId=event_id,
            message=f"{detail_type} from {body.get('source')} was never handled",
        )
    ]


def _stream_batch_letter(
    message: QueueMessage, batch: dict[str, Any], evidence: Evidence, orders: dict[str, Order]
) -> tuple[list[Accounted], list[Violation]]:
    """A stream batch a function gave up on (Lambda's on-failure record): each of its records,
    read back from the stream, is accounted for when the workflow it should have started ran
    since (the sweeper or an operator started it), else a violation naming its order and event."""
    span = (
        f"records {batch.get('startSequenceNumber')}..{batch.get('endSequenceNumber')} of "
        f"{batch.get('streamArn')}"
    )
    if message.records is None:
        return [], [
            Violation(queue=message.queue, message=f"{span} were never handled (not readable)")
        ]
    started = {(e.workflow, e.name) for e in evidence.executions or []}
    accounted: list[Accounted] = []
    violations: list[Violation] = []
    for record in message.records:
        order = orders.get(record.orderId or "")
        ran = {
            "OrderPlaced": (SAGA_WORKFLOW, record.orderId),
            "OrderCancellationRequested": (
                CANCELLATION_WORKFLOW,
                f"{CANCELLATION_PREFIX}{record.orderId}",
            ),
        }.get(record.detailType or "")
        if ran in started and order is not None and order.status in FINAL_STATUSES:
            accounted.append(
                Accounted(
                    queue=message.queue,
                    messageId=message.messageId,
                    orderId=record.orderId,
                    eventId=record.eventId,
                    reason=f"{record.detailType} was given up on, but its {ran[0]} ran since",
                )
            )
        else:
            violations.append(
                Violation(
                    queue=message.queue,
                    orderId=record.orderId,
                    eventId=record.eventId,
                    message=f"{record.detailType or record.key} in {span} was never handled",
                )
            )
    if not message.records:
        violations.append(
            Violation(queue=message.queue, message=f"{span} were never handled (trimmed)")
        )
    return accounted, violations


# ---------------------------------------------------------------- the command line


def add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the shop is (shared with ops.operator)."""
    parser.add_argument(
        "--aws-url",
        help="the AWS endpoint (localcloud: http://127.0.0.1:4566); default AWS_ENDPOINT_URL, "
        "else AWS",
    )
    parser.add_argument("--stack-name", default="shop", help="the CloudFormation stack (AWS)")
    parser.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="LOGICAL_ID=PHYSICAL_ID",
        help="name a resource yourself (repeatable), e.g. OrdersTable=shop-OrdersTable-1A2B",
    )
    parser.add_argument("--provider-url", help="the payment provider's base URL")


def deployment_from(args: argparse.Namespace) -> Deployment:
    overrides = dict(pair.split("=", 1) for pair in args.resource)
    return discover(
        args.aws_url,
        stack_name=args.stack_name,
        overrides=overrides,
        provider_url=args.provider_url,
    )


def check(
    deployment: Deployment, *, order_id: str | None = None, options: CheckOptions | None = None
) -> Report:
    """Gather the evidence and judge it: what tests, the soak and the CLI call."""
    return judge(gather(deployment, order_id=order_id), options)


def check_when_settled(
    deployment: Deployment,
    *,
    options: CheckOptions | None = None,
    order_id: str | None = None,
    wait_seconds: float = 60.0,
    poll_seconds: float = 2.0,
) -> Report:
    """Check again until no order is in flight (every order final, its email and summary given
    time to follow) and the consumers have no work left, for at most `wait_seconds`; the last
    report either way (what is still in flight then is listed in it). Each check peeks the
    queues: see `ops.evidence.peek`.

    Work that can change nothing judged is not waited for: the mail events of customers who
    never registered (see `undeliverable_mail`), which notifications retries until they reach
    its dead-letter queue (maxReceiveCount x the visibility timeout: minutes). The report says
    how many were still on their way."""
    options = options or CheckOptions()
    deadline = time.monotonic() + wait_seconds
    not_waited_for: int | None = None
    while time.monotonic() < deadline:  # no queue is received from until then, only counted
        events = order_events(deployment, order_id)
        orders = {
            key: order
            for key, items in events.items()
            if (order := fold(item.recorded() for item in items)) is not None
        }
        in_flight = orders_in_flight(orders, datetime.now(UTC), options)[0]
        busy: dict[str, int] = {}
        if not in_flight:
            busy = busy_consumer_queues(deployment)
            if not busy:
                break
            not_waited_for = undeliverable_mail(deployment, events, orders, busy)
            if not_waited_for is not None:
                break
        log.info("waiting: %d order(s) in flight, work on %s", len(in_flight), busy or "-")
        time.sleep(poll_seconds)
    report = check(deployment, order_id=order_id, options=options)
    if not_waited_for:
        report.invariants[DEAD_LETTERS].notes.append(
            f"{not_waited_for} message(s) still on {NOTIFICATIONS_QUEUE}, not waited for: mail of "
            "customers who never registered, retried until its dead-letter queue (and copies of "
            "mail already sent)"
        )
    return report


def busy_consumer_queues(deployment: Deployment) -> dict[str, int]:
    """The queues whose consumers still have work, with how many messages: waiting or being
    handled (a redelivery after a failed attempt waits out the visibility timeout, longer than
    any fixed settle time). Dead-letter, on-failure and operator queues hold no one's pending
    work. Counted with GetQueueAttributes, which receives nothing."""
    idle = {*deployment.failure_queues(), OPERATOR_QUEUE}
    sqs = deployment.client("sqs")
    busy: dict[str, int] = {}
    for logical_id, url in deployment.queues().items():
        if logical_id in idle:
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if count := sum(int(value) for value in attributes.values()):
            busy[logical_id] = count
    return busy


def undeliverable_mail(
    deployment: Deployment,
    events: dict[str, list[OrderEventItem]],
    orders: dict[str, Order],
    busy: dict[str, int],
) -> int | None:
    """When the only work left is on NotificationsQueue and can change nothing judged, how many
    messages it holds; else None (keep waiting).

    Notifications can't tell "not registered yet" from "never registered" (CustomerRegistered
    crosses the bus too and may come late), so it keeps failing an order's email for a customer
    without a contact, and SQS moves it to the dead-letter queue after maxReceiveCount
    receives (minutes: 3 x the 60 s visibility timeout), where the dead-letter invariant
    accounts for it. That is AWS's bounded retry, and the dead-letter queue keeps the event for
    a redrive should the customer register; answering "no contact" as final would lose the
    email of a customer whose registration is merely late.

    So that mail is not waited for once NotificationsQueue is the only busy queue, every email
    owed to a registered customer has its SENT record, and some mail of an unregistered
    customer is not yet on the dead-letter queue. SQS shows no message still in retry, so the
    queue may then also hold copies of mail already sent (a duplicated delivery that failed
    once under the faults): their redelivery can only be answered from the SENT record, and
    the copies handled during the run are what tests that."""
    if set(busy) != {NOTIFICATIONS_QUEUE} or not deployment.has(NOTIFICATIONS_QUEUE):
        return None
    known = contacts(deployment)
    mailed = {record.eventId for record in sent_records(deployment, None)}
    owed_to_nobody: set[str] = set()
    for key, order in orders.items():
        mail = {_event_id(event) for event in events[key] if is_handled(event.detailType)}
        if order.customerId not in known:
            owed_to_nobody |= mail
        elif mail - mailed:
            return None  # an email is still owed: wait for it
    on_their_way = owed_to_nobody - _dead_mail(deployment)
    return busy[NOTIFICATIONS_QUEUE] if on_their_way else None


def _dead_mail(deployment: Deployment) -> set[str]:
    """The event ids on NotificationsQueue's dead-letter queue (peeked)."""
    source = deployment.physical(NOTIFICATIONS_QUEUE)
    dead: set[str] = set()
    for logical_id, url in deployment.failure_queues().items():
        if source not in deployment.source_queues(url):
            continue
        for message in peek(deployment, logical_id, url):
            body = message.body if isinstance(message.body, dict) else {}
            event_id = ((body.get("detail") or {}).get("metadata") or {}).get("eventId")
            if isinstance(event_id, str):
                dead.add(event_id)
    return dead


def render(report: Report) -> str:
    """The report for a human: one line per invariant, then each violation."""
    scope = f" for order {report.scope}" if report.scope else ""
    lines = [
        f"{report.orders} orders, {report.judged} judged, {len(report.inFlight)} in flight "
        f"({report.checkedAt:%Y-%m-%d %H:%M:%S} UTC){scope}"
    ]
    for name, result in report.invariants.items():
        state = "held" if result.held else "VIOLATED"
        seen = "" if result.observed else " (not observed)"
        lines.append(f"  {name}: {state}{seen}")
        lines.extend(f"    - {_describe(violation)}" for violation in result.violations)
        lines.extend(
            f"    . accounted: {case.queue} {case.orderId or ''} {case.reason}"
            for case in result.accounted
        )
        lines.extend(f"    . {note}" for note in result.notes)
    for order in report.needsAttention:
        where = ", ".join(f"{c.queue} {c.messageId}" for c in order.cases) or "NO CASE"
        lines.append(
            f"  NEEDS_ATTENTION {order.orderId}: {'/'.join(order.failedSteps)} {order.error} "
            f"(net charged {order.netChargedCents}) -> {where}"
        )
    lines.extend(f"  note: {note}" for note in report.notes)
    lines.append("every invariant held" if report.held else "INVARIANTS VIOLATED")
    return "\n".join(lines)


def _describe(violation: Violation) -> str:
    subject = " ".join(
        f"{key}={value}"
        for key, value in violation.model_dump(exclude={"message"}).items()
        if value is not None
    )
    return f"{subject}: {violation.message}" if subject else violation.message


def quiet_service_logs() -> None:
    """The services' code the tools reuse (the rebuild, the fold) logs on stdout as a function
    does; on the command line that would mix with the report."""
    service_logger.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.invariants", description=__doc__)
    add_deployment_arguments(parser)
    parser.add_argument("--order", help="judge this order only")
    parser.add_argument(
        "--bound-seconds",
        type=float,
        default=DEFAULT_BOUND_SECONDS,
        help="how long an order may be PENDING or CANCELLING",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=DEFAULT_SETTLE_SECONDS,
        help="how long after its last change an order's email and summary may still be coming",
    )
    parser.add_argument(
        "--baseline", type=Path, help='JSON {"SKU": stock when it was put}: judge stock per SKU'
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", type=Path, help="also write the JSON report here")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="check again until no order is in flight, for at most this long",
    )
    args = parser.parse_args(argv)
    quiet_service_logs()

    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    options = CheckOptions(
        bound_seconds=args.bound_seconds, settle_seconds=args.settle_seconds, baseline=baseline
    )
    report = check_when_settled(
        deployment_from(args), order_id=args.order, options=options, wait_seconds=args.wait
    )
    as_json = report.model_dump_json(indent=2)
    if args.output:
        args.output.write_text(as_json + "\n")
    sys.stdout.write((as_json if args.json else render(report)) + "\n")
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
