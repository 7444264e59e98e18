"""DynamoDB requests read by a walk of the operation's input shape compiled once.

moto 5 reads every request's parameters by walking the operation's input shape over the
parsed JSON (moto.core.parse.JSONParser, as botocore's parsers do): 55 us for an outbox
PutItem, choosing each node's handler by name. The walk changes what json.loads gives in
more ways than one might think: members the shape does not name are dropped, `null` members
are dropped (a `"ReturnValues": null` is then moto's default, not an invalid value), an
integer member is `int()`-ed (`"Limit": "5"` or `5.0` become 5), blobs (an AttributeValue's
`B`, `BS`) are base64-decoded and timestamps parsed.

`install()` answers DynamoHandler.parse_parameters with localcloud.endpoint.moto_requests'
walk, compiled once per operation from the same shapes, doing what JSONParser's handlers do:
the parameters are moto's, value types included, blobs too (~7-26 us per write here, 5-10
with json.loads alone). A body that is not of the shape's types (a string where a map is),
a content type other than DynamoDB's `application/x-amz-json-1.0`, or an operation without an
input shape goes to moto's walk as before, which then answers or fails as it does.
tests/localcloud/test_dynamodb_request_params.py compares both on generated requests, good
and bad.

(Until 2026-12-02 this read `json.loads(body)` whenever the body had no `"B"`/`"BS"` key:
faster by ~4 us a request, but it kept nulls, unknown members and uncoerced numbers.)
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from localcloud.endpoint.moto_requests import Walk, body_as_json, walk_of

_install_lock = threading.Lock()
_installed = False
moto_parse_parameters: Any = None  # moto's own, kept for comparison and for the other cases

_CONTENT_TYPE = "application/x-amz-json-1.0"  # what determine_request_protocol reads as json


def install() -> None:
    global _installed, moto_parse_parameters  # noqa: PLW0603 - moto's handler is process-wide
    from moto.dynamodb.responses import DynamoHandler

    with _install_lock:
        if _installed:
            return
        moto_parse_parameters = DynamoHandler.parse_parameters
        DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
        _installed = True


def parse_parameters(self: Any, request: Any) -> None:
    params = read_params(self._get_action(), request.data, request.content_type)
    if params is None:
        moto_parse_parameters(self, request)
    else:
        self.params = params


@functools.lru_cache(maxsize=256)
def _walk(operation: str) -> Walk | None:
    from moto.core import responses

    model = responses.get_service_model("dynamodb").operation_model(operation)
    return walk_of(model)


def read_params(
    operation: str, body: bytes | str | None, content_type: str | None = _CONTENT_TYPE
) -> dict[str, Any] | None:
    """The request's parameters as moto's walk gives them, or None: moto's walk decides."""
    if content_type != _CONTENT_TYPE:
        return None
    try:
        walk = _walk(operation)
        if walk is None:
            return None
        params = walk(body_as_json(body))
    except Exception:  # not of the shape's types (or no such operation): moto decides
        return None
    return params if isinstance(params, dict) else None
