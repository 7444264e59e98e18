"""Whole numbers at the API's edge, as JSON Schema means them.

A JSON Schema `"type": "integer"` is any number with a zero fractional part, so `216.0` (or
`2.16e2`) is an integer to every client and generated test reading the OpenAPI document; pydantic's
strict int refuses it. `WholeNumber` lets such a float through as the int it is; strings, booleans
and fractions are still refused, as the document says.

    Quantity = Annotated[int, Field(ge=1, le=100, strict=True), WholeNumber]

Last in the Annotated: before the Field, it would hide the bounds from the JSON Schema.
"""

from __future__ import annotations

import math

from pydantic import BeforeValidator


def _integral(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_integral)
