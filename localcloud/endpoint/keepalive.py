"""HTTP/1.1 keep-alive for localcloud's HTTP servers (the AWS endpoint, API Gateway).

werkzeug's development server closes the connection after every response ("They aren't
handled well by Python's http.server because it doesn't know how to drain the stream before
the next request line"), so every AWS call a function made cost a TCP connection, urllib3's
setup of it in the function's process and, here, a new thread. In the 200-order burst of
issue 8 that was about a hundred connections a second, and the accept loop with its thread
starts took a tenth of localcloud's GIL time (py-spy). AWS's endpoints keep connections
alive, and the SDKs (and browsers, and `requests`) reuse them.

`KeepAlive` answers a request the simple way that makes keep-alive safe: the
body is read whole by its Content-Length before the app runs (AWS API requests are small),
the app's answer is gathered whole, and it is sent with its Content-Length, so nothing of
one request or answer is left on the connection for the next. A request with a chunked body
(no Content-Length) gets werkzeug's own handling, which closes the connection as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import weakref
from collections.abc import Callable, Iterable
from socketserver import BaseServer
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger("localcloud.aws")

_NO_BODY = {204, 304}
# The connections each server holds open, so that closing the server closes them too.
_open: weakref.WeakKeyDictionary[BaseServer, set[socket.socket]] = weakref.WeakKeyDictionary()
_open_lock = threading.Lock()


def close_connections(server: BaseServer) -> None:
    """End the connections a stopped server still holds open (their threads then end)."""
    with _open_lock:
        held = list(_open.pop(server, ()))
    for connection in held:
        with contextlib.suppress(OSError):  # already gone
            connection.shutdown(socket.SHUT_RDWR)


class KeepAlive(WSGIRequestHandler):
    """werkzeug's request handler, answering on one connection for as long as the client
    keeps it (HTTP/1.1 and no `Connection: close`), or until `close_connections`."""

    # An answer goes out as two writes (head, then body): with Nagle's algorithm the body
    # waited for the client's delayed ACK of the head, 40 ms per call on a kept connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with _open_lock:
            _open.setdefault(self.server, set()).add(self.connection)

    def finish(self) -> None:
        with _open_lock:
            _open.get(self.server, set()).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            super().run_wsgi()  # werkzeug's: reads the chunks, then closes the connection
            return
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        status, headers, content = _answer(self.server.app, environ)
        code, _, reason = status.partition(" ")
        status_code = int(code)
        self.send_response(status_code, reason)
        head = self.command == "HEAD"  # its Content-Length is the app's, for the GET's body
        framing = {"connection", "transfer-encoding"} | (set() if head else {"content-length"})
        for name, value in headers:
            if name.lower() not in framing:
                self.send_header(name, value)
        if not head and status_code not in _NO_BODY and not 100 <= status_code < 200:
            self.send_header("Content-Length", str(len(content)))
        if self.close_connection:  # the client asked (Connection: close, or HTTP/1.0)
            self.send_header("Connection", "close")
        self.end_headers()
        if content and not head:
            self.wfile.write(content)
        self.wfile.flush()


class KeepAliveRequestHandler(KeepAlive, MotoRequestHandler):
    """The AWS endpoint's: moto's request handler (headers with underscores kept), kept alive."""


def _answer(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the WSGI app to the end: its status, headers and whole body (a 500 if it fails)."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return written.append

    try:
        answer = app(environ, start_response)
        try:
            written.extend(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
    except Exception:  # werkzeug's server answers an app's exception with a 500, so do we
        log.exception("AWS call failed: %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"Internal Error"
    status, headers = started
    return status, headers, b"".join(written)
