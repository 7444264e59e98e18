"""The read model's logic: project an order event, list a customer's orders, rebuild it all.

Plain functions on models; the summary store and the event store are passed in. Projection
folds with the orders fold itself (`orders.logic.apply` / `load`), so whatever order events the
fold knows, the read model knows too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

from aws_lambda_powertools.metrics import MetricUnit

from orders.errors import CorruptOrderHistory
from orders.logic import apply, load
from orders.models import (
    DATA_MODELS,
    ORDER_SOURCE,
    Order,
    OrderEventData,
    OrderPlacedData,
    RecordedEvent,
)
from orders.read_model.errors import OrderHistoryUnavailable
from orders.read_model.models import (
    HeldSummary,
    OrderList,
    OrderSummaryView,
    PageCursor,
    ProjectionAction,
    ProjectionOutcome,
    RebuildReport,
)
from shop_shared.bus import BusEvent
from shop_shared.events import EventDetail, parse_detail
from shop_shared.observability import logger, metrics

if TYPE_CHECKING:
    from orders.read_model.repository import OrderSummaryStore
    from orders.repository import OrderEventStore


def known_data_model(detail_type: str) -> type[OrderEventData] | None:
    """The data model of an order event the fold knows; None for any other detail-type."""
    return cast("Mapping[str, type[OrderEventData]]", DATA_MODELS).get(detail_type)


# ---------------------------------------------------------------- projection


def project_order_event(
    event: BusEvent, *, summaries: OrderSummaryStore, store: OrderEventStore
) -> ProjectionOutcome:
    """Fold one order event into the order's summary; running it again changes nothing.

    The event's `metadata.aggregateVersion` says where it sits in the order's history. The next
    version is folded onto the held state; one the read model already holds (a duplicate) or a
    newer one (a late older event) changes nothing. A gap (an earlier event has not arrived
    yet), an event without a version, or a held state this code can't read or the fold refuses
    the event on is filled in by folding the order's history from the event store. The write
    is conditional on the stored version, so concurrent deliveries only move a summary forward.
    """
    data_model = known_data_model(event.detail_type) if event.source == ORDER_SOURCE else None
    if data_model is None:
        logger.info(
            "event ignored: the orders fold does not know it",
            extra={"source": event.source, "detail_type": event.detail_type, "id": event.id},
        )
        return ProjectionOutcome(action="ignored")
    detail = parse_detail(event.detail, data_model)
    order_id, version = detail.data.orderId, detail.metadata.aggregateVersion
    if version == 1 and isinstance(detail.data, OrderPlacedData):
        return _project_placed(detail, event.detail_type, summaries=summaries)
    held = summaries.held(order_id)
    held_version = held.version if held else 0
    if version is not None and version <= held_version:
        return _stale(order_id, held_version, event.detail_type)

    action: ProjectionAction = "applied"
    order = _folded_onto(held, detail) if version == held_version + 1 else None
    if order is None:
        order, action = load(store, order_id), "caught_up"
        if order is None:
            raise OrderHistoryUnavailable("The event store holds no such order", order_id=order_id)
        if order.version <= held_version:
            return _stale(order_id, held_version, event.detail_type)

    if not summaries.save(order):
        return _stale(order_id, order.version, event.detail_type)  # a concurrent delivery won
    return _projected(order, action)


def _project_placed(
    detail: EventDetail[OrderEventData], detail_type: str, *, summaries: OrderSummaryStore
) -> ProjectionOutcome:
    """OrderPlaced (version 1) starts the summary: there is nothing to fold it onto, so the
    summary is written without reading what the read model holds first. The write is
    conditional on a lower stored version, and every stored summary has version 1 or more, so
    it writes only where nothing is held; when something is (a duplicate, or later events
    got there first), the held version is read for the outcome, as before the write."""
    recorded = RecordedEvent(version=1, metadata=detail.metadata, data=detail.data)
    order = apply(None, recorded)
    if summaries.save(order):
        return _projected(order, "applied")
    held = summaries.held(order.orderId)
    return _stale(order.orderId, held.version if held else order.version, detail_type)


def _projected(order: Order, action: ProjectionAction) -> ProjectionOutcome:
    logger.info(
        "order summary projected",
        extra={"order_id": order.orderId, "version": order.version, "action": action},
    )
    metrics.add_metric(name="OrderSummaryProjected", unit=MetricUnit.Count, value=1)
    return ProjectionOutcome(action=action, orderId=order.orderId, version=order.version)


def _folded_onto(held: HeldSummary | None, detail: EventDetail[OrderEventData]) -> Order | None:
    """The event folded onto the held state; None when it can't be (the held state is not
    readable, or the fold refuses the event on it), so the history is folded from the store."""
    previous = held.order if held else None
    if held is not None and previous is None:
        return None
    version = (held.version if held else 0) + 1
    recorded = RecordedEvent(version=version, metadata=detail.metadata, data=detail.data)
    try:
        return apply(previous, recorded)
    except CorruptOrderHistory as error:
        logger.warning(
            "event does not fit the held state: folding the event store instead",
            extra={"order_id": detail.data.orderId, "version": version, "error": str(error)},
        )
        return None


def _stale(order_id: str, held_version: int, detail_type: str) -> ProjectionOutcome:
    logger.info(
        "event already projected",
        extra={"order_id": order_id, "held_version": held_version, "detail_type": detail_type},
    )
    return ProjectionOutcome(action="stale", orderId=order_id, version=held_version)


# ---------------------------------------------------------------- the list


def list_orders(
    customer_id: str,
    *,
    limit: int,
    cursor: str | None,
    summaries: OrderSummaryStore,
    cursor_key: bytes,
) -> OrderList:
    """The customer's orders, newest first, `limit` at a time from where `cursor` points (a
    cursor this function signed with `cursor_key` for this customer, else InvalidCursor)."""
    after = PageCursor.decode(cursor, customer_id, cursor_key).after if cursor else None
    page = summaries.page(customer_id, limit=limit, after=after)
    next_cursor = (
        PageCursor.at(customer_id, page.next_after, cursor_key).encode()
        if page.next_after
        else None
    )
    return OrderList(
        items=[OrderSummaryView.of(summary) for summary in page.summaries], nextCursor=next_cursor
    )


# ---------------------------------------------------------------- rebuild


def rebuild_summaries(
    order_ids: Iterable[str], *, store: OrderEventStore, summaries: OrderSummaryStore
) -> RebuildReport:
    """Fold every order's history from the event store into its summary.

    Into an empty table this is the read model from scratch; over a live one it rewrites every
    summary at the version the store has (so a fixed projection takes effect) and never puts
    back an older state than one a live delivery wrote meanwhile. Running it twice changes
    nothing the second time.
    """
    report = RebuildReport()
    for order_id in order_ids:
        order = load(store, order_id)
        if order is None:
            continue
        report.orders += 1
        if summaries.save(order, replace_same_version=True):
            report.written += 1
        else:
            report.kept += 1
    logger.info("order summaries rebuilt", extra=report.model_dump())
    return report
