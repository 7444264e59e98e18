"""localcloud's HTTP servers keep a connection open between requests, as AWS's endpoints do,
without one request's body or answer bleeding into the next."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer

from localcloud.endpoint.keepalive import KeepAlive, close_connections
from tests.support.wsgi_server import serving


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers with what it was sent; `/fail` raises, `/empty` answers 204."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the app failed")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    body = environ["wsgi.input"].read()
    answer = json.dumps({"path": path, "body": body.decode()}).encode()
    write = start_response("200 OK", [("Content-Type", "application/json")])
    write(answer[:5])  # the WSGI write() callable and the iterable both count
    return [answer[5:]]


@pytest.fixture
def server() -> Iterator[BaseWSGIServer]:
    with serving(echo_app, request_handler=KeepAlive) as served:
        yield served


def ask(
    connection: http.client.HTTPConnection, path: str, body: str = "", **headers: str
) -> tuple[int, bytes, http.client.HTTPResponse]:
    connection.request("POST", path, body=body.encode(), headers=headers)
    response = connection.getresponse()
    return response.status, response.read(), response


def test_one_connection_serves_request_after_request(server: BaseWSGIServer) -> None:
    # Given one connection to the server
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    answers = []
    sockets = set()
    # When it sends requests of different sizes, one after the other
    for n, body in enumerate(["", "x", "y" * 70_000, '{"a": 1}']):
        status, content, _ = ask(connection, f"/call/{n}", body)
        answers.append((status, json.loads(content)))
        sockets.add(id(connection.sock))
    # Then each got its own answer whole, on the same socket
    assert answers == [
        (200, {"path": "/call/0", "body": ""}),
        (200, {"path": "/call/1", "body": "x"}),
        (200, {"path": "/call/2", "body": "y" * 70_000}),
        (200, {"path": "/call/3", "body": '{"a": 1}'}),
    ]
    assert len(sockets) == 1
    assert connection.sock is not None


def test_a_failure_or_an_empty_answer_leaves_the_connection_usable(
    server: BaseWSGIServer,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    # When the app fails, then answers 204, then answers normally, on one connection
    failed, failure, _ = ask(connection, "/fail", "lost")
    empty, nothing, empty_response = ask(connection, "/empty")
    status, content, _ = ask(connection, "/after", "kept")
    # Then the failure is a 500, the 204 has no body, and the next request is answered
    assert (failed, failure) == (500, b"Internal Error")
    assert (empty, nothing, empty_response.getheader("Content-Length")) == (204, b"", None)
    assert (status, json.loads(content)) == (200, {"path": "/after", "body": "kept"})


def test_a_client_that_asks_to_close_gets_the_connection_closed(server: BaseWSGIServer) -> None:
    # Given a raw connection
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        # When a request says Connection: close
        sock.sendall(
            b"POST /bye HTTP/1.1\r\nHost: here\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        )
        received = b""
        while chunk := sock.recv(65536):  # until the server closes its end
            received += chunk
    # Then it was answered whole, saying it closes
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"\r\nConnection: close" in head
    assert json.loads(body) == {"path": "/bye", "body": "x"}


def test_a_chunked_request_is_answered_and_then_closed(server: BaseWSGIServer) -> None:
    # Given a request whose body comes in chunks (no Content-Length)
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    connection.request("POST", "/chunks", body=iter([b"ab", b"cd"]), encode_chunked=True)
    response = connection.getresponse()
    # Then werkzeug's own handling reads it, answers, and closes the connection
    assert (response.status, json.loads(response.read())) == (
        200,
        {"path": "/chunks", "body": "abcd"},
    )
    assert response.will_close


def test_closing_the_server_ends_its_kept_connections(server: BaseWSGIServer) -> None:
    # Given a connection kept open after an answer
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    assert ask(connection, "/first")[0] == 200
    # When the server is stopped and its connections closed
    server.shutdown()
    server.server_close()
    close_connections(server)
    # Then the kept connection is gone too
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        ask(connection, "/second")


def test_a_head_request_gets_no_body_and_the_connection_goes_on(server: BaseWSGIServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    # When a HEAD request is answered, then a POST on the same connection
    connection.request("HEAD", "/head")
    head = connection.getresponse()
    head_body = head.read()
    status, content, _ = ask(connection, "/after-head", "x")
    # Then the HEAD answer has no body and the POST gets its own answer
    assert (head.status, head_body) == (200, b"")
    assert (status, json.loads(content)) == (200, {"path": "/after-head", "body": "x"})
