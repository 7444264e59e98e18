"""Helpers for tests that compare values: with their types spelled out, or after changing a
copy to show it shares nothing with what it was copied from."""

from __future__ import annotations

from typing import Any


def typed(value: Any) -> Any:
    """The value with every leaf's type spelled out, dicts and lists walked (1, 1.0, True and
    "1" are equal to == in places, not here)."""
    if isinstance(value, dict):
        return ("dict", {key: typed(each) for key, each in value.items()})
    if isinstance(value, list):
        return ("list", [typed(each) for each in value])
    return (type(value).__name__, value)


def scribble(value: Any) -> None:
    """Change every dict and list inside `value`, in place (a key added, an item appended)."""
    if isinstance(value, dict):
        for each in list(value.values()):
            scribble(each)
        value["scribbled"] = True
    elif isinstance(value, list):
        for each in value:
            scribble(each)
        value.append("scribbled")
