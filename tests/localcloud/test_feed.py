"""The terminal feed `make run` shows (issue 12, item 5): order status changes, alarms and
errors, one line each; moto's absent-JSONPath noise kept out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from localcloud.logs.feed import (
    Feed,
    business_errors,
    error_line,
    log_to_file,
    order_line,
    quiet_moto,
)
from localcloud.logs.journal import BusEvent
from localcloud.logs.logbook import LogBook, parse

ORDER = "7d1f3c2a-5b4e-4c6d-9e8f-0a1b2c3d4e5f"


def bus_event(detail_type: str, **data: str) -> BusEvent:
    detail = {"metadata": {"correlationId": "c-1"}, "data": {"orderId": ORDER, **data}}
    return BusEvent(0.0, "shop-bus", "shop.orders", detail_type, detail)


def test_an_orders_status_changes_are_one_line_each() -> None:
    assert order_line(bus_event("OrderConfirmed")).endswith(f"order {ORDER}  CONFIRMED")  # type: ignore[union-attr]
    rejected = order_line(bus_event("OrderRejected", reason="PAYMENT_DECLINED"))
    assert rejected is not None
    assert rejected.endswith(f"order {ORDER}  REJECTED  (PAYMENT_DECLINED)")
    assert order_line(bus_event("StockReserved")) is None


def test_a_functions_error_line_names_the_function_and_the_order() -> None:
    error = parse(
        "ChargePaymentFunction",
        json.dumps({"level": "ERROR", "message": "provider answered 500", "order_id": ORDER}),
    )
    info = parse("ChargePaymentFunction", json.dumps({"level": "INFO", "message": "charged"}))
    crash = parse("ChargePaymentFunction", "[ERROR] KeyError: 'x'\nTraceback (most recent ...")

    assert error_line(error) is not None
    assert error_line(error).endswith(  # type: ignore[union-attr]
        f"ERROR  ChargePaymentFunction  order {ORDER}  provider answered 500"
    )
    assert error_line(info) is None
    assert error_line(crash).endswith("order -  [ERROR] KeyError: 'x'")  # type: ignore[union-attr]


def test_a_business_error_a_state_machine_does_not_retry_is_not_an_error_line() -> None:
    # Given a state machine whose task does not retry PaymentDeclined (a business outcome)
    definition = {
        "StartAt": "Charge",
        "States": {
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Charge",
                "Retry": [
                    {"ErrorEquals": ["PaymentDeclined"], "MaxAttempts": 0},
                    {"ErrorEquals": ["PaymentProviderUnavailable"], "MaxAttempts": 3},
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0},
                ],
                "End": True,
            }
        },
    }
    expected = frozenset(business_errors([json.dumps(definition)]))
    assert expected == {"PaymentDeclined"}

    # Then the runtime's record of it is left to the order's status line; a retried error is not
    declined = parse("ChargePaymentFunction", "[ERROR] PaymentDeclined: Your card was declined")
    down = parse("RefundPaymentFunction", "[ERROR] PaymentProviderUnavailable: no refund")
    assert error_line(declined, expected) is None
    assert error_line(down, expected) is not None


def test_the_feed_prints_errors_from_the_log_book_and_alarms_from_localcloud(
    tmp_path: Path,
) -> None:
    written: list[str] = []
    logbook = LogBook(tmp_path / "logs")
    feed = Feed(written.append)
    feed.attach(logbook)
    try:
        logbook.output("PlaceOrderFunction", json.dumps({"level": "INFO", "message": "placed"}))
        logbook.output("PlaceOrderFunction", json.dumps({"level": "ERROR", "message": "boom"}))
        logging.getLogger("localcloud.cloudwatch.alarms").warning("alarm X OK -> ALARM: breached")
        logging.getLogger("localcloud.cloudwatch.alarms").info("alarm X ALARM -> OK: recovered")
        logging.getLogger("localcloud.something").info("not news")
    finally:
        feed.detach(logbook)
        logbook.close()

    assert [line.split("  ", 1)[1] for line in written] == [
        "ERROR  PlaceOrderFunction  order -  boom",
        "ALARM  alarm X OK -> ALARM: breached",
        "ALARM  alarm X ALARM -> OK: recovered",
    ]
    # and every line is in the function's own file
    assert "placed" in (tmp_path / "logs" / "PlaceOrderFunction.log").read_text()


def test_moto_absent_jsonpath_errors_are_not_errors(tmp_path: Path) -> None:
    # Given localcloud's logs in a file, at INFO
    log_file = tmp_path / "localcloud.log"
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        log_to_file(log_file, "INFO")
        quiet_moto()
        moto = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")

        # When moto's interpreter logs the absent path a Choice's IsPresent asked about
        moto.error(
            "%s at '%s'",
            "Exception=NoSuchJsonPathError, Details=[$.compensationErrors]",
            "StringJsonPath",
        )
        moto.error("Exception=KeyError at 'x'")
        for handler in root.handlers:
            handler.flush()

        # Then only the real error is there
        text = log_file.read_text()
        assert "NoSuchJsonPathError" not in text
        assert "Exception=KeyError" in text
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        logging.getLogger("localcloud.lambda").propagate = True
