"""moto's AWS APIs answered without Flask's request machinery.

moto's server mode wraps each service's views (`BaseResponse.dispatch` and friends) in a
Flask app per service: per request, Flask pushes an app and a request context, matches the
URL, runs the view through `moto.core.utils.convert_to_flask_response` (which reads the
request from Flask's context-local) and finalizes the response. moto's views need none of it
but the URL match and a `BackendRequest` (moto's request class for its Flask apps); in the
200-order burst of issue 8 the rest was about a sixth of each call's CPU in localcloud.

`answer` does what that path does for moto's views: the app's own URL map picks the view,
its callback gets the request, a `ClientError` is a 400 and a status-headers-body tuple a
response, as in `convert_to_flask_response`; moto's errors (werkzeug `HTTPException`s) are
answered as Flask answers an exception it has no handler for. A view that is not moto's
wrapper, and moto's own API app (`/moto-api/`, which reads Flask's context), keep Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError
from flask import Flask
from flask import Response as FlaskResponse
from moto.core.utils import convert_to_flask_response
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest
from werkzeug.exceptions import HTTPException

WsgiAnswer = Iterable[bytes]


def answer(app: Flask, environ: dict[str, Any], start_response: Callable[..., Any]) -> WsgiAnswer:
    """What `app(environ, start_response)` answers, for one of moto's service apps."""
    if getattr(app, "service", None) == "moto_api":
        return app(environ, start_response)
    try:
        endpoint, _ = app.url_map.bind_to_environ(environ).match()
        view = app.view_functions[endpoint]
        if not isinstance(view, convert_to_flask_response):
            return app(environ, start_response)
        response = _call(view, BackendRequest(environ))
    except HTTPException as error:  # moto's service errors, and an unmatched URL (404)
        return error(environ, start_response)
    return response(environ, start_response)


def _call(view: convert_to_flask_response, request: BackendRequest) -> FlaskResponse:
    """`convert_to_flask_response.__call__`, with the request handed over, not context-local."""
    recorder._record_request(request)
    try:
        result = view.callback(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    if len(result) == 3:
        status, headers, content = result
    else:
        status, headers, content = 200, {}, result
    response = FlaskResponse(response=content, status=status, headers=headers)
    if request.method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    return response
