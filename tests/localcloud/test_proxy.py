"""localcloud.endpoint.proxy: a request forwarded to another process's endpoint arrives as it was
sent, and its answer comes back as that endpoint gave it."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer
from werkzeug.wsgi import get_input_stream

from localcloud.endpoint.proxy import ForwardingApp
from tests.support.wsgi_server import serving

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers 418 with what it received: method, path, query, the headers that matter, body."""
    body = get_input_stream(environ).read()  # its length's bytes, or chunked, all
    seen = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ.get("QUERY_STRING", ""),
        "target": environ.get("HTTP_X_AMZ_TARGET"),
        "authorization": environ.get("HTTP_AUTHORIZATION"),
        "body": body.decode(),
    }
    start_response("418 I'm a teapot", [("Content-Type", "application/json"), ("X-Seen", "yes")])
    return [json.dumps(seen).encode()]


@pytest.fixture
def serve() -> Iterator[Callable[[App], BaseWSGIServer]]:
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(serving(app))


def test_a_request_is_forwarded_as_sent_and_answered_as_the_other_end_answers(
    serve: Callable[[App], BaseWSGIServer],
) -> None:
    # Given an endpoint that echoes, and one that forwards to it
    other = serve(echo)
    front = serve(ForwardingApp(f"http://127.0.0.1:{other.server_port}"))
    connection = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=10)
    headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Authorization": "AWS4 Credential=k/"}

    answers = []
    for chunked in (False, True):
        # When a request is sent with a length, then one chunked (no length)
        body = b'{"TableName": "t"}'
        connection.request(
            "POST",
            "/some/path?a=1",
            body=iter([body]) if chunked else body,
            headers=headers,
            encode_chunked=chunked,
        )
        answer = connection.getresponse()
        answers.append((answer.status, answer.getheader("X-Seen"), json.loads(answer.read())))

    # Then the other end got each whole, and its answer came back whole
    for status, seen_header, seen in answers:
        assert (status, seen_header) == (418, "yes")
        assert seen == {
            "method": "POST",
            "path": "/some/path",
            "query": "a=1",
            "target": "DynamoDB_20120810.GetItem",
            "authorization": "AWS4 Credential=k/",
            "body": '{"TableName": "t"}',
        }


def test_an_endpoint_that_is_gone_is_answered_503(
    serve: Callable[[App], BaseWSGIServer],
) -> None:
    # Given a forwarder to an endpoint that no longer serves
    other = serve(echo)
    url = f"http://127.0.0.1:{other.server_port}"
    other.shutdown()
    other.server_close()
    front = serve(ForwardingApp(url))

    # When a request comes
    connection = http.client.HTTPConnection("127.0.0.1", front.server_port, timeout=10)
    connection.request("POST", "/", body=b"{}")
    answer = connection.getresponse()

    # Then it is answered as a service that is unavailable, in JSON
    assert answer.status == 503
    assert json.loads(answer.read())["__type"] == "ServiceUnavailable"
