"""Values compared with their types: 1, 1.0, True and "1" are equal to == in places, not here."""

from __future__ import annotations

from typing import Any


def typed(value: Any) -> Any:
    """The value with every leaf's type spelled out, dicts and lists walked."""
    if isinstance(value, dict):
        return ("dict", {key: typed(each) for key, each in value.items()})
    if isinstance(value, list):
        return ("list", [typed(each) for each in value])
    return (type(value).__name__, value)
