"""A whole number sent as `216.0` is the integer the OpenAPI document calls it (found by
Schemathesis: PUT /products with `"priceCents": 216.0` was refused as schema-valid data)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from shop_shared.numbers import WholeNumber


class Line(BaseModel):
    quantity: Annotated[int, Field(ge=1, le=100, strict=True), WholeNumber]


@pytest.mark.parametrize(("sent", "read"), [(3, 3), (3.0, 3), (2.16e2 / 72, 3), (100.0, 100)])
def test_a_whole_number_is_read_as_an_int(sent: Any, read: int) -> None:
    line = Line.model_validate({"quantity": sent})

    assert line.quantity == read
    assert type(line.quantity) is int


@pytest.mark.parametrize(
    "sent", [3.5, "3", True, None, float("nan"), float("inf"), 1e300, 0.0, [3], {"n": 3}]
)
def test_anything_else_is_refused(sent: Any) -> None:
    with pytest.raises(ValidationError):
        Line.model_validate({"quantity": sent})


def test_the_json_schema_is_still_the_bounded_integer() -> None:
    assert Line.model_json_schema()["properties"]["quantity"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "title": "Quantity",
    }
