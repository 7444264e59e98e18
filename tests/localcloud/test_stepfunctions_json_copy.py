"""moto's interpreter copies an execution's JSON data with localcloud's json_copy."""

from __future__ import annotations

import copy
import datetime
import enum
from typing import Any

from localcloud.stepfunctions.json_copy import json_copy


class Kind(enum.StrEnum):
    TASK = "Task"


class Opaque:
    def __init__(self, items: list[int]) -> None:
        self.items = items


def test_a_copy_equals_deepcopys_and_shares_nothing_mutable() -> None:
    # Given JSON data as the interpreter holds it, with a history's timestamp and enum member
    # and an object that is not JSON
    opaque = Opaque([1, 2])
    data: dict[str, Any] = {
        "order": {"id": "o-1", "lines": [{"sku": "A", "qty": 2}], "paid": True, "total": 9.5},
        "none": None,
        "raw": b"\x00",
        "at": datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC),
        "type": Kind.TASK,
        "opaque": opaque,
    }

    # When it is copied
    copied = json_copy(data)

    # Then it equals deepcopy's copy, and changing the copy leaves the original as it was
    expected = copy.deepcopy(data)
    assert {k: v for k, v in copied.items() if k != "opaque"} == {
        k: v for k, v in expected.items() if k != "opaque"
    }
    assert copied["opaque"] is not opaque
    assert copied["opaque"].items == [1, 2]
    copied["order"]["lines"][0]["qty"] = 3
    copied["opaque"].items.append(3)
    assert data["order"]["lines"][0]["qty"] == 2
    assert opaque.items == [1, 2]
    assert copied["type"] is Kind.TASK


def test_the_interpreters_json_modules_copy_with_it() -> None:
    # Given localcloud's Step Functions patches
    from moto.stepfunctions.parser.asl.eval import states

    from localcloud.stepfunctions import patches

    # When they are installed
    patches.install()

    # Then moto's states module copies its data with json_copy
    assert states.copy.deepcopy is json_copy
