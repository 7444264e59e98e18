"""Read template.yaml the way localcloud does, so tests never repeat a table's schema."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@cache
def raw_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def resource(logical_id: str) -> dict[str, Any]:
    return raw_template()["Resources"][logical_id]
