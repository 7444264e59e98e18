"""A WSGI app that hands each request, as it came, to an endpoint in another process.

localcloud serves DynamoDB (and its Streams) from a process of its own
(localcloud.dynamodb.process); the functions call it there directly
(`AWS_ENDPOINT_URL_DYNAMODB`), but a client that only knows the AWS endpoint (the test
harness, the console, provisioning, the pollers, Step Functions' tasks) still reaches DynamoDB
through it, as every AWS service has one regional endpoint per client. The request goes on
unchanged (method, path, query, headers with the signature, body), so the other process judges
it whole (IAM, faults, the meter) exactly as when it is called directly; the answer comes back
byte for byte.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from localcloud.endpoint.calls import request_body

log = logging.getLogger("localcloud.aws")

# hop-by-hop headers (RFC 9110 7.6.1) stay with their hop
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
TIMEOUT_SECONDS = 65.0  # past any DynamoDB call's own time; the other end is on this machine


class KeptConnections:
    """HTTP/1.1 exchanges with one server over keep-alive connections, one per thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._local = threading.local()

    def exchange(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """(status, reason, headers, body) of the answer; OSError when the server can't be
        reached (a kept connection the server closed while idle is replaced, and the request
        sent on the new one)."""
        while True:
            connection, reused = self._connection()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                content = response.read()
            except (http.client.HTTPException, OSError) as error:
                connection.close()
                self._local.connection = None
                # a kept connection the server closed while idle: nothing was done, send anew
                if reused and isinstance(error, _STALE):
                    continue
                raise
            if response.will_close:
                connection.close()
                self._local.connection = None
            return response.status, response.reason, response.getheaders(), content

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it served an exchange before."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
        self._local.connection = connection
        return connection, False


class ForwardingApp:
    """Forwards each request to `url` (http://host:port) and answers with its answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connections = KeptConnections(url)
        self._lock = threading.Lock()
        self.requests = 0  # forwarded so far

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        body = request_body(environ)
        path = environ.get("PATH_INFO", "") or "/"
        if environ.get("QUERY_STRING"):
            path = f"{path}?{environ['QUERY_STRING']}"
        method = environ.get("REQUEST_METHOD", "GET")
        with self._lock:
            self.requests += 1
        try:
            status, reason, headers, content = self._connections.exchange(
                method, path, body, _request_headers(environ)
            )
        except (http.client.HTTPException, OSError) as error:  # the other process is gone
            log.warning("forwarding to %s failed: %s", self.url, error)
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"__type": "ServiceUnavailable", "message": "Service unavailable"}']
        kept = [
            (name, value)
            for name, value in headers
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
        ]
        start_response(f"{status} {reason}", [*kept, ("Content-Length", str(len(content)))])
        return [content]


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers
