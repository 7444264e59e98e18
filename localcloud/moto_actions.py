"""A response class's action names listed once, not at every request.

moto's `BaseResponse.call_action`, the step every query- and JSON-protocol request goes
through, asks `moto.core.utils.method_names_from_class(self.__class__)` whether the action is
one of the class's methods, and that runs `inspect.getmembers` over the class and all its
bases each time: about 2% of localcloud's CPU in the 200-order burst of issue 8. call_action is
moto's only caller, and it only asks whether a name is in the answer.

A class's methods are fixed once its module is imported: moto defines no response class at
run time, and localcloud's patches (SNS, Step Functions) replace a response method with
another function under the same name, never add or remove one. So the answer is kept per
class (a few hundred classes at most). It is a frozenset, which a caller cannot change.

moto's `get_service_model` (botocore's model of a service, asked by every response) is cached
with `functools.cache`, which lets every thread that misses load the model: at a burst's
start, dozens of threads each loaded the same models (botocore lists its data directories to
find one: seconds of CPU on two cores). `install()` lets one thread load it; the rest wait
(localcloud.computed_once).

`install()` also installs localcloud.endpoint.moto_requests: the caller's access key found
once per credential scope, the request id drawn at once, and a JSON-protocol request's
parameters walked by a walk compiled per operation (all as moto's give them).
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any

from localcloud.computed_once import ComputedOnce

_install_lock = threading.Lock()
_installed = False


@functools.cache
def method_names_from_class(clazz: object) -> frozenset[str]:
    """The names of the class's functions (its own and inherited), as moto's function."""
    return frozenset(name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction))


# moto's `get_service_model`, computed once per service (set by `install()`)
get_service_model: ComputedOnce[str, Any] | None = None


def install() -> None:
    """Route moto's call_action through the cache, and its model lookups through one loader
    at a time (idempotent)."""
    global _installed, get_service_model  # noqa: PLW0603 - moto is process-wide, so is this
    from moto.core import responses, routing, utils

    from localcloud.endpoint import moto_requests

    moto_requests.install()  # its own lock; idempotent
    with _install_lock:
        if _installed:
            return
        # responses.py imported the function by name; it is its only caller.
        responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]
        # moto's function, not its functools.cache, behind one cache computed by one thread
        get_service_model = ComputedOnce(utils.get_service_model.__wrapped__)
        # imported by name in responses and routing; errors.py imports it from utils lazily
        for module in (utils, responses, routing):
            module.get_service_model = get_service_model  # type: ignore[attr-defined]
        _installed = True
