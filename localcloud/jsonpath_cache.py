"""One JSONPath compilation per path, not one per use.

jsonpath_ng builds a new PLY parser (reading its LR tables) for every `parse(path)` call, and
moto calls it on every use: EventBridge for each target of each matching rule of each PutEvents
entry (`EventTemplateParser.parse`, eight paths when the target has no input transformer),
Step Functions for each InputPath/OutputPath/ResultPath of each state. Under a burst of
orders that was an eighth of localcloud's CPU. A compiled expression is not changed by `find`
or `update_or_create`, so one per path string is kept and shared; what the calls return is
the same.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Route moto's JSONPath compilations (EventBridge, Step Functions) through a cache."""
    global _installed  # noqa: PLW0603 - jsonpath_ng and moto are process-wide, so is this
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    with _install_lock:
        if _installed:
            return
        extended: Any = lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
        basic: Any = lru_cache(maxsize=1024)(jsonpath_ng.parse)
        # moto.events.utils imports jsonpath_ng.ext.parse inside the function, at each call.
        jsonpath_ng.ext.parse = extended
        json_path.parse = extended
        result_path.parse = basic
        _installed = True
