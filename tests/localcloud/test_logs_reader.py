"""`localcloud logs` over the per-function files the log book writes (issue 12, item 2)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from localcloud.logs.logbook import LogBook
from localcloud.logs.reader import FileLine, follow, read_files
from tests.support.polling import eventually


def test_the_functions_files_are_read_back_merged_in_time_order(tmp_path: Path) -> None:
    # Given two functions' lines, one a multi-line error record
    book = LogBook(tmp_path)
    book.output("PlaceOrderFunction", json.dumps({"level": "INFO", "message": "placed"}))
    book.output("ChargePaymentFunction", "[ERROR] PaymentDeclined: declined\nTraceback (...)")
    book.output("PlaceOrderFunction", json.dumps({"level": "INFO", "message": "again"}))
    book.close()

    # When all files are read, and one function's
    everything = read_files(tmp_path)
    one = read_files(tmp_path, "ChargePaymentFunction")

    # Then the lines come back in the order they were written, each record whole
    assert [line.function for line in everything] == [
        "PlaceOrderFunction",
        "ChargePaymentFunction",
        "PlaceOrderFunction",
    ]
    assert one == [everything[1]]
    assert one[0].text == "[ERROR] PaymentDeclined: declined\nTraceback (...)"
    assert read_files(tmp_path, "NoSuchFunction") == []


def test_follow_prints_what_is_there_then_each_new_record(tmp_path: Path) -> None:
    book = LogBook(tmp_path)
    book.output("PlaceOrderFunction", "first")
    printed: list[FileLine] = []
    stop = threading.Event()
    follower = threading.Thread(
        target=follow, args=(tmp_path, None, printed.append, stop.is_set), daemon=True
    )
    follower.start()
    try:
        assert eventually(lambda: [line.text for line in printed] == ["first"])

        book.output("ReserveStockFunction", "second")
        book.output("PlaceOrderFunction", "third")

        assert eventually(
            lambda: [line.text for line in printed] == ["first", "second", "third"]
        ), printed
    finally:
        stop.set()
        follower.join(timeout=10)
        book.close()


def test_follow_prints_a_record_written_while_it_printed_what_was_there(tmp_path: Path) -> None:
    # Given a line already there, and another written while the follower prints the first
    # (the moment its first read ends: a record then was lost when it noted the files' sizes
    # after reading them whole)
    book = LogBook(tmp_path)
    book.output("PlaceOrderFunction", "first")
    printed: list[str] = []

    def out(line: FileLine) -> None:
        printed.append(line.text)
        if line.text == "first":
            book.output("ReserveStockFunction", "second")
            book.output("PlaceOrderFunction", "third")

    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(tmp_path, None, out, stop.is_set))
    follower.start()
    try:
        # When it follows, then every line is printed once, in order
        assert eventually(lambda: printed == ["first", "second", "third"], timeout=10), printed
    finally:
        stop.set()
        follower.join(timeout=5)
        book.close()
