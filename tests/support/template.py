"""Read template.yaml the way localcloud does, so tests never repeat a table's schema."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from localcloud.cloudformation.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@cache
def raw_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def resource(logical_id: str) -> dict[str, Any]:
    return raw_template()["Resources"][logical_id]


def loaded_template() -> Template:
    """Template.load(TEMPLATE), as localcloud reads it, a copy of its own for each caller: the
    parse and SAM translation (about a second) happen once per process, a copy takes 25 ms."""
    return copy.deepcopy(_loaded_template())


@cache
def _loaded_template() -> Template:
    return Template.load(TEMPLATE)
