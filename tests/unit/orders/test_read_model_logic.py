"""The orders read model on in-memory fakes: projection (in order, duplicated, late, unknown),
the list's paging and cursor, and the rebuild from the event store."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from orders.logic import confirm_order, load, place_order, reject_order
from orders.models import (
    ConfirmOrderInput,
    OrderEventItem,
    PlaceOrder,
    PlaceOrderRequest,
    RejectOrderInput,
)
from orders.read_model.errors import InvalidCursor, OrderHistoryUnavailable
from orders.read_model.logic import list_orders, project_order_event, rebuild_summaries
from orders.read_model.models import OrderSummaryItem, PageCursor, created_key
from tests.support.sealing import FakeSealer
from tests.unit.orders.orders_fakes import (
    CUSTOMER,
    ORDER_ID,
    OTHER_CUSTOMER,
    InMemoryOrderEventStore,
    TickingClock,
    fake_seal,
)
from tests.unit.orders.summaries_fakes import (
    CountingOrderEventStore,
    InMemoryOrderSummaryStore,
    bus_event,
)

ITEMS = [{"sku": "ESPRESSO-250G", "quantity": 2}]
ORDER_IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6)]

KEY = b"the key from the template's OrderListCursorKeySecret"


@pytest.fixture
def store() -> CountingOrderEventStore:
    return CountingOrderEventStore()


@pytest.fixture
def summaries() -> InMemoryOrderSummaryStore:
    return InMemoryOrderSummaryStore()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


def placed(
    store: InMemoryOrderEventStore,
    clock: TickingClock,
    order_id: str = ORDER_ID,
    customer: str = CUSTOMER,
) -> str:
    request = PlaceOrderRequest.model_validate({"items": ITEMS, "paymentToken": "tok_visa"})
    command = PlaceOrder(customerId=customer, correlationId="corr-1", request=request)
    return place_order(
        command,
        store=store,
        clock=clock,
        new_id=lambda: order_id,
        seal=fake_seal,
        address_sealer=FakeSealer(),
    ).orderId


def confirmed(
    store: InMemoryOrderEventStore, clock: TickingClock, order_id: str = ORDER_ID
) -> None:
    task = ConfirmOrderInput.model_validate(
        {
            "orderId": order_id,
            "reservation": {"totalCents": 2580, "currency": "EUR"},
            "payment": {"paymentId": "ch_1", "amountCents": 2580, "currency": "EUR"},
        }
    )
    confirm_order(task, store=store, clock=clock)


def rejected(store: InMemoryOrderEventStore, clock: TickingClock, order_id: str = ORDER_ID) -> None:
    cause = json.dumps({"errorMessage": "Your card was declined"})
    task = RejectOrderInput.model_validate(
        {"orderId": order_id, "error": {"Error": "PaymentDeclined", "Cause": cause}}
    )
    reject_order(task, store=store, clock=clock)


def events_of(store: InMemoryOrderEventStore, order_id: str = ORDER_ID) -> list[OrderEventItem]:
    return store.history(order_id)


def expected_item(store: InMemoryOrderEventStore, order_id: str = ORDER_ID) -> dict[str, object]:
    order = load(store, order_id)
    assert order is not None
    return OrderSummaryItem.of(order).to_item()


# ---------------------------------------------------------------- projection


def test_events_in_order_are_folded_onto_the_held_state(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given an order placed and confirmed
    placed(store, clock)
    confirmed(store, clock)
    first, second = events_of(store)
    reads = store.reads

    # When its events arrive in order
    outcomes = [
        project_order_event(bus_event(item), summaries=summaries, store=store)
        for item in (first, second)
    ]

    # Then each was folded onto the state before it (the event store was not read), and the
    # summary is the fold of both
    assert [(o.action, o.version) for o in outcomes] == [("applied", 1), ("applied", 2)]
    assert store.reads == reads
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}
    item = summaries.items[f"ORDER#{ORDER_ID}"]
    assert {k: item[k] for k in ("status", "totalCents", "currency", "version")} == {
        "status": "CONFIRMED",
        "totalCents": 2580,
        "currency": "EUR",
        "version": 2,
    }
    assert item["createdAt"] == "2026-11-25T14:00:00Z"
    assert item["createdKey"] == f"2026-11-25T14:00:00.000000Z#{ORDER_ID}"


def test_a_duplicate_event_changes_nothing(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given the summary of a placed order
    placed(store, clock)
    (event,) = events_of(store)
    project_order_event(bus_event(event), summaries=summaries, store=store)
    before, writes, reads = dict(summaries.items), summaries.writes, store.reads

    # When the same event is delivered again
    outcome = project_order_event(bus_event(event), summaries=summaries, store=store)

    # Then it is stale: nothing was written, and the event store was not even read
    assert (outcome.action, outcome.version) == ("stale", 1)
    assert summaries.items == before
    assert summaries.writes == writes
    assert store.reads == reads


def test_order_placed_writes_the_summary_without_reading_the_held_one(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given a placed order the read model holds nothing of
    placed(store, clock)
    (event,) = events_of(store)
    reads = store.reads

    # When OrderPlaced (version 1) is projected
    outcome = project_order_event(bus_event(event), summaries=summaries, store=store)

    # Then the summary was written conditionally, with no read of the summary or the store
    assert (outcome.action, outcome.version) == ("applied", 1)
    assert summaries.held_reads == 0
    assert store.reads == reads
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}


def test_a_late_older_event_never_overwrites_the_newer_state(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given an order placed and rejected, whose events arrive the wrong way round
    placed(store, clock)
    rejected(store, clock)
    first, second = events_of(store)

    reads = store.reads

    # When OrderRejected (v2) arrives before OrderPlaced (v1)
    early = project_order_event(bus_event(second), summaries=summaries, store=store)
    late = project_order_event(bus_event(first), summaries=summaries, store=store)

    # Then the gap was filled from the event store (read once), and the late event changed
    # nothing
    assert (early.action, early.version) == ("caught_up", 2)
    assert store.reads == reads + 1
    assert (late.action, late.version) == ("stale", 2)
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}
    assert summaries.items[f"ORDER#{ORDER_ID}"]["status"] == "REJECTED"
    assert summaries.writes == 1


def test_an_event_without_a_version_is_caught_up_from_the_event_store(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given an order confirmed, and its OrderConfirmed as a producer without versions sent it
    placed(store, clock)
    confirmed(store, clock)
    _, second = events_of(store)
    metadata = json.loads(second.detail)["metadata"]
    del metadata["aggregateVersion"]

    # When it arrives
    outcome = project_order_event(
        bus_event(second, metadata=metadata), summaries=summaries, store=store
    )

    # Then the order's whole history was folded from the store
    assert (outcome.action, outcome.version) == ("caught_up", 2)
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}


def test_a_held_state_this_code_cannot_read_is_caught_up_from_the_event_store(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given a summary at version 1 whose stored state no longer parses
    placed(store, clock)
    confirmed(store, clock)
    first, second = events_of(store)
    project_order_event(bus_event(first), summaries=summaries, store=store)
    summaries.items[f"ORDER#{ORDER_ID}"]["state"] = '{"orderId": "from an older release"}'

    # When version 2 arrives
    outcome = project_order_event(bus_event(second), summaries=summaries, store=store)

    # Then it was folded from the event store rather than onto the unreadable state
    assert outcome.action == "caught_up"
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}


def test_an_event_the_fold_refuses_on_the_held_state_is_caught_up_from_the_event_store(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given a summary at version 1 whose held state says CONFIRMED (a fold of an older release)
    placed(store, clock)
    confirmed(store, clock)
    first, second = events_of(store)
    project_order_event(bus_event(first), summaries=summaries, store=store)
    item = summaries.items[f"ORDER#{ORDER_ID}"]
    item["state"] = json.dumps({**json.loads(item["state"]), "status": "CONFIRMED"})

    # When OrderConfirmed (v2) arrives, which the fold refuses after CONFIRMED
    outcome = project_order_event(bus_event(second), summaries=summaries, store=store)

    # Then the order was folded from the event store, and the summary is right
    assert (outcome.action, outcome.version) == ("caught_up", 2)
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [("shop.orders", "OrderGiftWrapped"), ("shop.payments", "OrderPlaced")],
    ids=["a detail-type the fold does not know", "another service's event"],
)
def test_events_the_fold_does_not_know_are_ignored(
    store: InMemoryOrderEventStore,
    summaries: InMemoryOrderSummaryStore,
    clock: TickingClock,
    source: str,
    detail_type: str,
) -> None:
    placed(store, clock)
    (event,) = events_of(store)
    unknown = bus_event(event).model_copy(update={"source": source, "detail_type": detail_type})

    outcome = project_order_event(unknown, summaries=summaries, store=store)

    assert outcome.action == "ignored"
    assert summaries.items == {}


def test_losing_a_race_to_a_concurrent_newer_delivery_keeps_the_newer_state(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given an order placed and confirmed; v1 is being projected while another delivery of v2
    # (caught up from the store) writes first
    placed(store, clock)
    confirmed(store, clock)
    first, _ = events_of(store)
    summaries.lose_next_race_to = load(store, ORDER_ID)

    # When v1's write comes second
    outcome = project_order_event(bus_event(first), summaries=summaries, store=store)

    # Then it did not overwrite version 2, which it reports as held
    assert (outcome.action, outcome.version) == ("stale", 2)
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}
    assert summaries.items[f"ORDER#{ORDER_ID}"]["version"] == 2


def test_a_gap_for_an_order_the_event_store_lacks_fails_to_be_retried(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given a version-2 event of an order that is not in this event store
    elsewhere = InMemoryOrderEventStore()
    placed(elsewhere, clock)
    confirmed(elsewhere, clock)
    _, second = events_of(elsewhere)

    with pytest.raises(OrderHistoryUnavailable):
        project_order_event(bus_event(second), summaries=summaries, store=store)
    assert summaries.items == {}


# ---------------------------------------------------------------- the list


def test_the_list_is_newest_first_and_pages_with_the_cursor(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given three orders of the customer (one confirmed) and one of another customer
    for order_id in ORDER_IDS[:3]:
        placed(store, clock, order_id)
    confirmed(store, clock, ORDER_IDS[1])
    placed(store, clock, ORDER_IDS[3], customer=OTHER_CUSTOMER)
    rebuild_summaries(ORDER_IDS[:4], store=store, summaries=summaries)

    # When the customer lists two at a time
    first = list_orders(CUSTOMER, limit=2, cursor=None, summaries=summaries, cursor_key=KEY)
    assert first.nextCursor is not None
    second = list_orders(
        CUSTOMER, limit=2, cursor=first.nextCursor, summaries=summaries, cursor_key=KEY
    )

    # Then newest first, their own orders only, and the last page says so
    assert [o.orderId for o in first.items] == [ORDER_IDS[2], ORDER_IDS[1]]
    assert [o.orderId for o in second.items] == [ORDER_IDS[0]]
    assert second.nextCursor is None
    assert first.model_dump(mode="json")["items"][1] == {
        "orderId": ORDER_IDS[1],
        "status": "CONFIRMED",
        "totalCents": 2580,
        "currency": "EUR",
        "createdAt": "2026-11-25T14:01:00Z",
    }
    assert first.items[0].status == "PENDING"
    assert first.items[0].totalCents is None


def test_an_exact_last_page_has_no_next_cursor(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    for order_id in ORDER_IDS[:2]:
        placed(store, clock, order_id)
    rebuild_summaries(ORDER_IDS[:2], store=store, summaries=summaries)

    page = list_orders(CUSTOMER, limit=2, cursor=None, summaries=summaries, cursor_key=KEY)

    assert len(page.items) == 2
    assert page.nextCursor is None


def _cursor_json(cursor: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(cursor + "=="))
    return decoded


def _encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _tampered_cursors() -> dict[str, str]:
    after = created_key(datetime(2026, 11, 25, 14, tzinfo=UTC), ORDER_IDS[0])
    genuine = PageCursor.at(CUSTOMER, after, KEY).encode()
    moved = {**_cursor_json(genuine), "after": created_key(datetime(2030, 1, 1), ORDER_IDS[0])}
    return {
        "another customer's": PageCursor.at(OTHER_CUSTOMER, after, KEY).encode(),
        "moved": _encode(moved),
        "not base64": "%%%",
        "not JSON": _encode("x")[:-1] + "A",
        "truncated": genuine[:-4],
        "a list": _encode([1, 2]),
        "an extra field": _encode({**_cursor_json(genuine), "customerId": OTHER_CUSTOMER}),
        # issue 11, finding 7: the check was a bare digest anyone could compute for any position
        "checked with a bare SHA-256": _encode(
            {
                "v": 1,
                "after": after,
                "check": hashlib.sha256(f"{CUSTOMER}\n{after}".encode()).hexdigest()[:32],
            }
        ),
        "signed with another key": PageCursor.at(CUSTOMER, after, b"another key" * 3).encode(),
    }


@pytest.mark.parametrize("name", list(_tampered_cursors()))
def test_a_tampered_cursor_is_refused(summaries: InMemoryOrderSummaryStore, name: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        list_orders(
            CUSTOMER,
            limit=20,
            cursor=_tampered_cursors()[name],
            summaries=summaries,
            cursor_key=KEY,
        )

    assert (refused.value.code, refused.value.http_status) == ("INVALID_CURSOR", 400)


def test_a_cursor_round_trips_for_its_customer_only() -> None:
    after = created_key(datetime(2026, 11, 25, 14, 0, 0, 123, tzinfo=UTC), ORDER_IDS[0])

    cursor = PageCursor.at(CUSTOMER, after, KEY).encode()

    assert PageCursor.decode(cursor, CUSTOMER, KEY).after == after
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    with pytest.raises(InvalidCursor):
        PageCursor.decode(cursor, OTHER_CUSTOMER, KEY)


def test_created_keys_sort_as_their_times_whatever_the_precision_or_zone() -> None:
    base = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)
    times = [
        base,
        base + timedelta(microseconds=1),
        (base + timedelta(seconds=1)).astimezone(UTC).replace(tzinfo=UTC),
        (base + timedelta(hours=2)).astimezone(),  # a local zone
        base + timedelta(days=400),
    ]
    keys = [created_key(at, ORDER_IDS[0]) for at in times]

    assert keys == sorted(keys)
    assert keys[0] == f"2026-11-25T14:00:00.000000Z#{ORDER_IDS[0]}"


# ---------------------------------------------------------------- rebuild


def test_a_rebuild_into_an_empty_store_equals_the_live_projection(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given orders in every state, projected live with duplicates and late events
    for order_id in ORDER_IDS[:3]:
        placed(store, clock, order_id)
    confirmed(store, clock, ORDER_IDS[0])
    rejected(store, clock, ORDER_IDS[1])
    deliveries = [item for order_id in ORDER_IDS[:3] for item in events_of(store, order_id)]
    for item in [*reversed(deliveries), *deliveries]:
        project_order_event(bus_event(item), summaries=summaries, store=store)

    # When the read model is rebuilt into an empty store, twice
    rebuilt = InMemoryOrderSummaryStore()
    report = rebuild_summaries(ORDER_IDS[:3], store=store, summaries=rebuilt)
    again = rebuild_summaries(ORDER_IDS[:3], store=store, summaries=rebuilt)

    # Then it holds exactly what the live projection holds
    assert rebuilt.items == summaries.items
    assert (report.orders, report.written, report.kept) == (3, 3, 0)
    assert again.orders == 3
    assert rebuilt.items == summaries.items


def test_a_rebuild_over_a_newer_summary_keeps_it(
    store: CountingOrderEventStore, summaries: InMemoryOrderSummaryStore, clock: TickingClock
) -> None:
    # Given a summary at version 2 while the store (read before the confirm) is at version 1
    placed(store, clock)
    snapshot = InMemoryOrderEventStore()
    snapshot.items = dict(store.items)
    confirmed(store, clock)
    rebuild_summaries([ORDER_ID], store=store, summaries=summaries)

    # When a rebuild from the older snapshot runs over it
    report = rebuild_summaries([ORDER_ID], store=snapshot, summaries=summaries)

    # Then the newer summary stays
    assert (report.written, report.kept) == (0, 1)
    assert summaries.items == {f"ORDER#{ORDER_ID}": expected_item(store)}
