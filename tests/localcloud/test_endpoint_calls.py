"""localcloud.endpoint.calls: reading a query-protocol call's Action from its form body leaves
the body whole for whoever answers the call next, sent with a length or chunked."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.wsgi import get_input_stream

from localcloud.endpoint.calls import query_action
from tests.support.wsgi_server import serving

FORM = b"Action=SendMessage&QueueUrl=q&MessageBody=hello"


def action_then_body(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """What the endpoint's gate reads (the Action), then what moto reads (the body)."""
    action = query_action(environ)
    body = get_input_stream(environ).read().decode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"action": action, "body": body}).encode()]


@pytest.mark.parametrize("chunked", [False, True], ids=["with-a-length", "chunked"])
def test_the_action_is_read_and_the_body_is_left_whole(chunked: bool) -> None:
    # Given an app that reads the Action, then the body, behind werkzeug's own server
    with serving(action_then_body) as server:
        # When a form-encoded call comes, with a length or chunked
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        connection.request(
            "POST",
            "/",
            body=iter([FORM]) if chunked else FORM,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            encode_chunked=chunked,
        )
        seen = json.loads(connection.getresponse().read())

    # Then its Action was found and the body read after it is the one sent
    assert seen == {"action": "SendMessage", "body": FORM.decode()}
