"""The console's HTTP side, on localcloud's AWS endpoint: `/_console` (the page), its static files
(`/_console/static/...`, shipped in this package: plain ES modules, no build step, nothing from
a CDN) and its JSON API (`/_console/api/...`):

    GET  /_console/api/orders?search=<part of an id>&limit=100   newest first
    GET  /_console/api/orders/<orderId>     events, executions (graph + each state), emails,
                                            the provider's charges and refunds of the order
    GET  /_console/api/queues               depth of every queue, which are dead-letter queues
    POST /_console/api/queues/<name>/redrive   move a DLQ's messages back to its source queue
    GET  /_console/api/alarms               CloudWatch alarms and their state
    GET  /_console/api/ledger               the payment provider simulator's charges, refunds

The page also reads localcloud's own routes on the same origin: /_localcloud/faults,
/_localcloud/traces/<id>, /_localcloud/logs and /_localcloud/orders/<id>/story.

Errors are JSON `{"message", "code"}` with a 4xx status. A POST must say `Content-Type:
application/json`: a form on another web page can't send that without the browser asking first
(CORS preflight, which is never granted here), so no other site can press the button.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.wrappers import Request, Response

from localcloud.console.data import ConsoleData, ConsoleError
from localcloud.endpoint.answers import json_response

log = logging.getLogger("localcloud.console")

PREFIX = "/_console"
STATIC_DIR = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_ORDER = re.compile(r"^/_console/api/orders/(?P<id>[A-Za-z0-9_.:-]{1,128})$")
_REDRIVE = re.compile(r"^/_console/api/queues/(?P<name>[A-Za-z0-9_-]{1,80})/redrive$")
_STATIC = re.compile(r"^/_console/static/(?P<file>[A-Za-z0-9_-]{1,64}\.[a-z]{2,4})$")
MAX_LIMIT = 10_000


class ConsoleRoutes:
    """A route of the AWS endpoint (a Request in, a Response out, or None: not the console's)."""

    def __init__(self, data: ConsoleData) -> None:
        self.data = data

    def __call__(self, request: Request) -> Response | None:
        path = request.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        try:
            return self._answer(request)
        except ConsoleError as refused:
            return _error(refused.status, refused.code, refused.message)
        except (ClientError, BotoCoreError) as error:
            # An emulated service refused or failed: say which, as a gateway would.
            log.warning("console: AWS call failed", extra={"path": path, "error": str(error)})
            return _error(502, "AWS_CALL_FAILED", str(error))

    def _answer(self, request: Request) -> Response:
        path = request.path.rstrip("/") or PREFIX
        if path == PREFIX:
            return _static("index.html")
        if match := _STATIC.match(request.path):
            return _static(match["file"])
        if path.startswith(PREFIX + "/api/"):
            return self._api(request, path)
        return _error(404, "NOT_FOUND", f"No console page {request.path}")

    def _api(self, request: Request, path: str) -> Response:
        if match := _REDRIVE.match(path):
            if request.method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", "Redrive is a POST")
            if request.mimetype != "application/json":
                return _error(415, "UNSUPPORTED_MEDIA_TYPE", "Send Content-Type: application/json")
            return _json(200, self.data.redrive(match["name"]))
        if request.method != "GET":
            return _error(405, "METHOD_NOT_ALLOWED", f"{path} answers GET only")
        if path == PREFIX + "/api/orders":
            limit = _limit(request.args.get("limit", "100"))
            return _json(200, self.data.orders(request.args.get("search", "").strip(), limit))
        if match := _ORDER.match(path):
            return _json(200, self.data.order(match["id"]))
        if path == PREFIX + "/api/queues":
            return _json(200, self.data.queues())
        if path == PREFIX + "/api/alarms":
            return _json(200, self.data.alarms())
        if path == PREFIX + "/api/ledger":
            return _json(200, self.data.ledger())
        return _error(404, "NOT_FOUND", f"No console API {path}")


def _limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        raise ConsoleError(400, "VALIDATION_ERROR", "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ConsoleError(400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _static(name: str) -> Response:
    path = STATIC_DIR / name
    content_type = _TYPES.get(path.suffix)
    if content_type is None or not path.is_file():
        return _error(404, "NOT_FOUND", f"No console file {name}")
    response = Response(path.read_bytes(), status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-cache"  # a changed file is seen on the next load
    return response


def _json(status: int, body: Any) -> Response:
    return json_response(status, body, {"Cache-Control": "no-store"})


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"message": message, "code": code})
