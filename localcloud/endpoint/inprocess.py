"""localcloud's own AWS calls, answered inside this process.

localcloud calls AWS too: provisioning, the X-Ray daemon, Step Functions' service tasks
other than Lambda and DynamoDB, and once the event source pollers and every task. They
used boto3 over HTTP to the endpoint this same process serves: a socket, an HTTP request
parsed by werkzeug's server and a thread per connection, for a call that ends in a function
of this process. During a burst those round trips were a large share of localcloud's CPU
(about 3.2 ms per call, 1.8 ms of it left when answered in-process).

A client made with `answer_in_process(client)` still builds, signs and parses every call
as boto3 does, and the endpoint's WSGI app still answers it whole (IAM's gate with the
signing role, fault rules, the billing meter, moto); only the HTTP hop is gone. botocore's
`before-send` event is the hook made for this (moto's own mock mode answers through it):
a handler that returns a response is used instead of sending the request. The pollers'
calls (json_protocol.py) and Step Functions' Lambda and DynamoDB tasks
(localcloud/stepfunctions/lambda_invoke.py, sdk_calls.py) skip botocore's client side too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

log = logging.getLogger("localcloud.aws")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The endpoints this process serves, by port (clients name them 127.0.0.1 or localhost).
_apps: dict[int, WsgiApp] = {}
_lock = threading.Lock()


def serve_in_process(port: int, app: WsgiApp) -> None:
    with _lock:
        _apps[port] = app


def stop_serving_in_process(port: int) -> None:
    with _lock:
        _apps.pop(port, None)


def served_app(port: int) -> WsgiApp | None:
    """The endpoint app this process serves on `port`, if any."""
    with _lock:
        return _apps.get(port)


def answer_in_process(client: Any) -> Any:
    """The client, answered by this process's endpoint when it is the one it calls (else
    unchanged: its calls go over HTTP as before)."""
    url = urlsplit(client.meta.endpoint_url)
    if url.hostname not in {"127.0.0.1", "localhost"} or url.port is None:
        return client
    app = served_app(url.port)
    if app is not None:
        client.meta.events.register("before-send", _sender(app))
    return client


def _sender(app: WsgiApp) -> Callable[..., AWSResponse]:
    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        return _answer(app, request)

    return send


def _answer(app: WsgiApp, request: AWSPreparedRequest) -> AWSResponse:
    url = urlsplit(request.url)
    environ = EnvironBuilder(
        method=request.method,
        base_url=f"{url.scheme}://{url.netloc}",
        path=url.path or "/",
        query_string=url.query,
        headers=[
            (name, value.decode("utf-8") if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
        ],
        data=_body(request),
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    try:
        app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        content = b"".join(app_iter)
    except Exception:  # werkzeug's server answers an app's exception with a 500, so do we
        log.exception("in-process AWS call failed: %s %s", request.method, request.url)
        return _response(request, 500, {}, b"Internal Server Error")
    return _response(request, int(status.split(" ", 1)[0]), dict(headers), content)


def _body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if not isinstance(body, str | bytes | bytearray):  # a file-like payload
        body = body.read()
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _response(
    request: AWSPreparedRequest, status: int, headers: dict[str, str], content: bytes
) -> AWSResponse:
    # botocore keeps the headers in a HeadersDict made from any mapping (its stubs say
    # HTTPHeaders, what urllib3 hands it)
    return AWSResponse(request.url, status, cast(Any, headers), MockRawResponse(content))
