"""Saga step ScheduleShipment and compensation CancelShipment: the handlers in-process on moto."""

from __future__ import annotations

from typing import Any

import pytest

from shipping.errors import ShipmentAlreadyCancelled, ShippingUnavailable
from tests.support.client_calls import dynamodb_calls
from tests.support.sealing import sealed_for_order

ORDER_ID = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"  # the sample events'
CUSTOMER = "2b7e1f0a-8c3d-4e5f-a617-28394a5b6c7d"
POLE = {"line1": "Amundsen-Scott", "city": "South Pole", "postalCode": "0000", "country": "AQ"}


def test_scheduling_twice_ships_once_to_the_orders_address(
    schedule_shipment: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    # Given no shipment for the sample order (to London)
    # When ScheduleShipment runs, and runs again (a retried or duplicated step)
    first = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)
    after_first = shipping.items()
    second = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)

    # Then both answer the same shipment, with a carrier and a tracking id
    assert second == first
    assert first["orderId"] == ORDER_ID
    assert (first["status"], first["carrier"], first["country"]) == ("SCHEDULED", "UPS", "GB")
    assert first["trackingId"].startswith("UPS-")
    # and the table holds one SCHEDULED shipment and one ShipmentScheduled event, unchanged
    assert shipping.items() == after_first
    shipment = shipping.items()[f"SHIPMENT#{ORDER_ID}"]
    assert (shipment["itemType"], shipment["status"]) == ("SHIPMENT", "SCHEDULED")
    assert shipment["trackingId"] == first["trackingId"]
    assert shipment["address"]["city"] == "London"
    assert shipment["customerId"] == CUSTOMER
    assert [line["sku"] for line in shipment["lines"]] == ["ESPRESSO-250G", "MUG-CERAMIC"]
    assert shipping.outbox() == [
        (
            "ShipmentScheduled",
            {
                "orderId": ORDER_ID,
                "customerId": CUSTOMER,
                "carrier": "UPS",
                "trackingId": first["trackingId"],
                "country": "GB",
            },
        )
    ]


def test_an_order_without_an_address_ships_to_the_registered_one(
    schedule_shipment: Any,
    record_customer_address: Any,
    sample_event: Any,
    lambda_context: Any,
    shipping: Any,
) -> None:
    # Given the customer registered (CustomerRegistered reached shipping)
    record_customer_address.handler(sample_event("record_customer_address"), lambda_context)
    event = sample_event("schedule_shipment")
    del event["shippingAddressCiphertext"]

    # When the order without an address of its own is scheduled
    result = schedule_shipment.handler(event, lambda_context)

    # Then it ships to the registered address
    assert result["country"] == "GB"
    shipment = shipping.items()[f"SHIPMENT#{ORDER_ID}"]
    assert shipment["address"] == shipping.items()[f"ADDRESS#{CUSTOMER}"]["address"]
    assert [detail_type for detail_type, _ in shipping.outbox()] == ["ShipmentScheduled"]


@pytest.mark.parametrize("case", ["no address at all", "Antarctica"])
def test_shipping_unavailable_writes_nothing(
    schedule_shipment: Any, sample_event: Any, lambda_context: Any, shipping: Any, case: str
) -> None:
    event = sample_event("schedule_shipment")
    if case == "Antarctica":
        event["shippingAddressCiphertext"] = sealed_for_order(ORDER_ID, POLE)
    else:
        del event["shippingAddressCiphertext"]

    # When it is scheduled twice, Then it refuses both times (the saga matches the class name)
    for _ in range(2):
        with pytest.raises(ShippingUnavailable):
            schedule_shipment.handler(event, lambda_context)

    # and nothing was written
    assert shipping.items() == {}


def test_cancelling_twice_cancels_once(
    schedule_shipment: Any,
    cancel_shipment: Any,
    sample_event: Any,
    lambda_context: Any,
    shipping: Any,
) -> None:
    # Given a scheduled shipment
    scheduled = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)

    # When the compensation runs, and runs again
    first = cancel_shipment.handler(sample_event("cancel_shipment"), lambda_context)
    after_first = shipping.items()
    second = cancel_shipment.handler(sample_event("cancel_shipment"), lambda_context)

    # Then it answers the same, the shipment is CANCELLED once, with one ShipmentCancelled
    expected = {"orderId": ORDER_ID, "status": "CANCELLED", "trackingId": scheduled["trackingId"]}
    assert first == second == expected
    assert shipping.items() == after_first
    shipment = shipping.items()[f"SHIPMENT#{ORDER_ID}"]
    assert shipment["status"] == "CANCELLED"
    assert shipment["updatedAt"] > shipment["createdAt"]
    assert [detail_type for detail_type, _ in shipping.outbox()] == [
        "ShipmentScheduled",
        "ShipmentCancelled",
    ]
    assert shipping.outbox()[1][1] == {
        "orderId": ORDER_ID,
        "customerId": CUSTOMER,
        "carrier": "UPS",
        "trackingId": scheduled["trackingId"],
    }


def test_cancelling_before_scheduling_leaves_a_tombstone_that_refuses_a_late_schedule(
    schedule_shipment: Any,
    cancel_shipment: Any,
    sample_event: Any,
    lambda_context: Any,
    shipping: Any,
) -> None:
    # Given ScheduleShipment never ran (or timed out before writing)
    # When the compensation runs twice
    first = cancel_shipment.handler(sample_event("cancel_shipment"), lambda_context)
    second = cancel_shipment.handler(sample_event("cancel_shipment"), lambda_context)

    # Then a CANCELLED tombstone is left, without an event
    assert first == second == {"orderId": ORDER_ID, "status": "CANCELLED", "trackingId": None}
    assert list(shipping.items()) == [f"SHIPMENT#{ORDER_ID}"]
    assert shipping.items()[f"SHIPMENT#{ORDER_ID}"]["status"] == "CANCELLED"
    tombstone = shipping.items()

    # When a late ScheduleShipment arrives, Then it is refused and nothing changes
    with pytest.raises(ShipmentAlreadyCancelled):
        schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)
    assert shipping.items() == tombstone


def test_a_first_schedule_writes_without_reading_the_shipment_and_a_retry_reads_after(
    schedule_shipment: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    # Given no shipment for the sample order
    calls = dynamodb_calls(schedule_shipment)

    # When ScheduleShipment runs, then runs again
    first = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)
    first_calls = list(calls)
    second = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)

    # Then the first wrote the shipment with its event in one request, and the second found it
    # by its failed write's condition and answered it with the same tracking id
    assert first_calls == ["TransactWriteItems"]
    assert calls == ["TransactWriteItems", "TransactWriteItems", "GetItem"]
    assert second == first
    assert [detail_type for detail_type, _ in shipping.outbox()] == ["ShipmentScheduled"]


def test_a_late_schedule_without_any_address_is_still_refused_as_cancelled(
    schedule_shipment: Any,
    cancel_shipment: Any,
    sample_event: Any,
    lambda_context: Any,
    shipping: Any,
) -> None:
    # Given the compensation left a tombstone, and the order has no address (nor the customer)
    cancel_shipment.handler(sample_event("cancel_shipment"), lambda_context)
    tombstone = shipping.items()
    event = sample_event("schedule_shipment")
    del event["shippingAddressCiphertext"]

    # When a late ScheduleShipment arrives, Then it is refused as cancelled (not as
    # ShippingUnavailable) and nothing changes
    with pytest.raises(ShipmentAlreadyCancelled):
        schedule_shipment.handler(event, lambda_context)
    assert shipping.items() == tombstone


def test_a_retry_whose_address_no_longer_opens_answers_the_first_shipment(
    schedule_shipment: Any, sample_event: Any, lambda_context: Any, shipping: Any
) -> None:
    # Given the order is scheduled
    first = schedule_shipment.handler(sample_event("schedule_shipment"), lambda_context)
    after_first = shipping.items()
    # When a retry carries an address sealed for another order (it does not open)
    event = sample_event("schedule_shipment")
    event["shippingAddressCiphertext"] = sealed_for_order("another-order", POLE)

    again = schedule_shipment.handler(event, lambda_context)

    # Then the first shipment is answered, and nothing changed
    assert again == first
    assert shipping.items() == after_first
