"""A mutated copy of template.yaml, for tests that show localcloud refuses what AWS refuses.

The copy is written as JSON (a CloudFormation template may be either) into a test's own
folder, with every local path (CodeUri, ContentUri, DefinitionUri) made relative to that
folder so it still names the project's code (an absolute path would not survive the
translator's S3 URI parsing, which drops a key's leading slash). A mutation is a function
that changes the parsed template in place; the helpers below find what they change and fail
loudly when the template no longer has it, so a test can never pass because its mutation
silently did nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from tests.support.localcloud_process import ROOT

Template = dict[str, Any]
Mutation = Callable[[Template], None]

_LOCAL_PATHS = ("CodeUri", "ContentUri", "DefinitionUri")


class MutationNotApplicable(AssertionError):
    """The template no longer has what the mutation changes: fix the test, not localcloud."""


def mutated_template(folder: Path, *mutations: Mutation, source: Path | None = None) -> Path:
    source = source or ROOT / "template.yaml"
    template: Template = yaml_parse(source.read_text())
    for properties in _all_properties(template):
        for key in _LOCAL_PATHS:
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                relative = os.path.relpath((source.parent / value).resolve(), folder.resolve())
                properties[key] = relative + ("/" if value.endswith("/") else "")
    for mutate in mutations:
        mutate(template)
    path = folder / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return path


def _all_properties(template: Template) -> Iterator[dict[str, Any]]:
    for resource in template.get("Resources", {}).values():
        yield resource.setdefault("Properties", {})
    yield from template.get("Globals", {}).values()


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = template["Resources"][logical_id]
    except KeyError:
        raise MutationNotApplicable(f"the template has no {logical_id}") from None
    return found


def policies(template: Template, logical_id: str) -> list[Any]:
    found: list[Any] = resource(template, logical_id)["Properties"].get("Policies", [])
    return found


def policy_entries(
    template: Template, logical_id: str, policy_template: str, names: dict[str, Any]
) -> list[int]:
    """Indexes of `logical_id`'s SAM policy-template entries `{policy_template: names}`."""
    hits = [
        index
        for index, entry in enumerate(policies(template, logical_id))
        if isinstance(entry, dict) and entry.get(policy_template) == names
    ]
    if not hits:
        raise MutationNotApplicable(f"{logical_id} has no {policy_template} {names}")
    return hits
