"""GetShipment (internal query, not on the API): get_shipment.handler in-process on moto, after
the saga's real ScheduleShipment / CancelShipment, answering what orders' GET
/orders/{orderId}/details reads."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from orders.details.models import ShipmentAnswer
from tests.integration.shipping.conftest import ShippingState
from tests.support.lambda_context import FakeLambdaContext


@pytest.fixture(scope="module")
def _get_shipment(_shipping_cloud: Any) -> ModuleType:
    """The handler imported inside the module's moto, with SHIPPING_TABLE_NAME set (cold start)."""
    sys.modules.pop("get_shipment", None)
    return importlib.import_module("get_shipment")


@pytest.fixture
def get_shipment(_get_shipment: ModuleType, shipping: ShippingState) -> ModuleType:
    return _get_shipment


def ask(get_shipment: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = get_shipment.handler(event, FakeLambdaContext())
    return answer


def test_a_scheduled_shipment_is_found(
    schedule_shipment: ModuleType,
    get_shipment: ModuleType,
    shipping: ShippingState,
    sample_event: Any,
) -> None:
    # Given the saga scheduled the sample order's shipment (to its GB address)
    scheduled = schedule_shipment.handler(sample_event("schedule_shipment"), FakeLambdaContext())
    before = shipping.items()

    # When orders asks for the order's shipment (the sample event), twice
    first = ask(get_shipment, sample_event("get_shipment"))
    second = ask(get_shipment, sample_event("get_shipment"))

    # Then it is that shipment (no address or lines: those are the order's), nothing changed
    order_id = sample_event("get_shipment")["orderId"]
    assert (
        first
        == second
        == {
            "orderId": order_id,
            "found": True,
            "shipment": {
                "status": "SCHEDULED",
                "carrier": scheduled["carrier"],
                "trackingId": scheduled["trackingId"],
                "country": "GB",
            },
        }
    )
    assert shipping.items() == before
    # And orders reads it with its own model
    read = ShipmentAnswer.model_validate(first)
    assert read.shipment is not None
    assert read.shipment.trackingId == scheduled["trackingId"]


def test_a_cancelled_shipment_is_found_cancelled(
    schedule_shipment: ModuleType,
    cancel_shipment: ModuleType,
    get_shipment: ModuleType,
    shipping: ShippingState,
    sample_event: Any,
) -> None:
    # Given the sample order's shipment was scheduled, then cancelled
    scheduled = schedule_shipment.handler(sample_event("schedule_shipment"), FakeLambdaContext())
    cancel_shipment.handler(sample_event("cancel_shipment"), FakeLambdaContext())
    before = shipping.items()

    # When orders asks for it; Then it is CANCELLED, same carrier and tracking id
    answer = ask(get_shipment, sample_event("get_shipment"))
    assert answer["shipment"] == {
        "status": "CANCELLED",
        "carrier": scheduled["carrier"],
        "trackingId": scheduled["trackingId"],
        "country": "GB",
    }
    assert shipping.items() == before


def test_no_shipment_and_a_tombstone_are_both_not_found(
    cancel_shipment: ModuleType,
    get_shipment: ModuleType,
    shipping: ShippingState,
    sample_event: Any,
) -> None:
    order_id = sample_event("get_shipment")["orderId"]
    # Given no shipment at all: "not found"
    assert ask(get_shipment, sample_event("get_shipment")) == {
        "orderId": order_id,
        "found": False,
        "shipment": None,
    }
    assert shipping.items() == {}

    # Given a cancellation ran before any shipment existed (it leaves a tombstone)
    cancel_shipment.handler(sample_event("cancel_shipment"), FakeLambdaContext())
    assert shipping.of_kind("SHIPMENT#")[f"SHIPMENT#{order_id}"]["status"] == "CANCELLED"
    before = shipping.items()

    # When orders asks; Then still "not found": the tombstone is shipping's own bookkeeping
    answer = ask(get_shipment, sample_event("get_shipment"))
    assert answer == {"orderId": order_id, "found": False, "shipment": None}
    assert shipping.items() == before
    assert ShipmentAnswer.model_validate(answer).shipment is None


@pytest.mark.parametrize(
    "event",
    [{}, {"orderId": ""}, {"orderId": "o-1", "customerId": "c"}],
    ids=["empty", "blank id", "unknown field"],
)
def test_a_malformed_query_is_refused(
    get_shipment: ModuleType, shipping: ShippingState, event: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        ask(get_shipment, event)
    assert shipping.items() == {}
