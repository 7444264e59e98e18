"""The init phase runs without the cyclic collector, and ends with what it made frozen."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.template import ROOT, raw_template

PROBE = """
import gc, json
from shop_shared.coldstart import init_done
during = gc.isenabled()
init_done()
after, frozen = gc.isenabled(), gc.get_freeze_count()
init_done()
print(json.dumps({"during": during, "after": after, "frozen": frozen,
                  "again": gc.isenabled(), "frozen_again": gc.get_freeze_count()}))
"""


def init_in_fresh_interpreter(environment: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={"PYTHONPATH": ":".join(sys.path), **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def test_on_lambda_the_collector_is_off_until_init_done_then_the_init_is_frozen() -> None:
    # Given a fresh interpreter where Lambda runs it
    # When a handler's init imports shop_shared.coldstart, then calls init_done() (twice)
    seen = init_in_fresh_interpreter({"AWS_LAMBDA_FUNCTION_NAME": "GetCustomerFunction"})
    # Then the collector was off during the init, and is on again after it
    assert seen["during"] is False
    assert seen["after"] is True
    # And what the init made is in the permanent generation, once
    assert isinstance(seen["frozen"], int)
    assert seen["frozen"] > 0
    assert seen["again"] is True
    assert seen["frozen_again"] == seen["frozen"]


def test_elsewhere_the_collector_is_left_alone() -> None:
    # Given a fresh interpreter that is not a Lambda function (a test process, a tool)
    # When it imports a handler's first and last statements
    seen = init_in_fresh_interpreter({})
    # Then the collector stays on and nothing is frozen
    assert seen == {"during": True, "after": True, "frozen": 0, "again": True, "frozen_again": 0}


def handler_modules() -> list[tuple[str, Path]]:
    """Every function's handler module in template.yaml, as (logical id, file)."""
    found = []
    for logical_id, resource in raw_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module = resource["Properties"]["Handler"].rpartition(".")[0].replace(".", "/") + ".py"
        code_dir = ROOT / resource["Properties"]["CodeUri"]
        path = code_dir / module
        if not path.is_file():
            path = ROOT / "layers" / "shared" / module  # the shared layer's handlers
        found.append((logical_id, path))
    return sorted(found)


def test_every_function_of_the_template_has_a_handler_module() -> None:
    modules = handler_modules()
    assert len(modules) > 30
    missing = [logical_id for logical_id, path in modules if not path.is_file()]
    assert missing == []


@pytest.mark.parametrize(("logical_id", "path"), handler_modules(), ids=str)
def test_each_handler_module_pauses_the_collector_first_and_ends_its_init_last(
    logical_id: str, path: Path
) -> None:
    # Given the handler module Lambda imports for this function
    body = ast.parse(path.read_text()).body
    imports = [
        node
        for node in body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    # Then its first import is shop_shared.coldstart's, before anything that allocates
    first = imports[0]
    assert isinstance(first, ast.ImportFrom), logical_id
    assert first.module == "shop_shared.coldstart", logical_id
    # And its last statement is init_done(): the collector does not stay off after init
    last = body[-1]
    assert isinstance(last, ast.Expr), logical_id
    assert isinstance(last.value, ast.Call), logical_id
    assert isinstance(last.value.func, ast.Name), logical_id
    assert last.value.func.id == "init_done", logical_id
