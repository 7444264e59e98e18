"""HTTP caching of a public GET route: a strong ETag, Cache-Control, and 304 on If-None-Match.

    app.get("/products/<sku>", middlewares=[PublicCache(max_age_seconds)], ...)

The route's middleware serializes the success body itself (as the resolver would: compact
JSON), so the ETag is the hash of the very bytes sent: a strong validator (RFC 9110 8.8.1),
changing whenever the representation does. A request whose If-None-Match names that tag gets
304 with no body and the same ETag and Cache-Control (RFC 9110 15.4.5); any other answer is
the full 200. If-None-Match is read as RFC 9110 13.1.2 says: `*`, or a list of entity tags
compared weakly (`W/"x"` matches `"x"`), every header line of it (API Gateway passes repeated
headers in multiValueHeaders); a value that does not parse is ignored (the 200 is served).

Only a 200 gets them: an error (404, 400, 500) reaches the client through the resolver's
exception handlers with neither, so no browser or proxy is told it may keep it. (API Gateway's
own stage cache keeps whatever a Lambda proxy integration answered, status aside:
template.yaml's cache keys and README, "Caching", say how that is handled.)
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

IF_NONE_MATCH = "If-None-Match"
NOT_MODIFIED = 304


def strong_etag(body: bytes) -> str:
    """A strong entity tag for these exact bytes: the first 128 bits of their SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def parse_if_none_match(value: str) -> list[str] | None:
    """The opaque tags an If-None-Match value lists (W/ dropped: weak comparison), ["*"] for
    `*`, or None when the value is not valid (RFC 9110 8.8.3: entity-tag = [W/] DQUOTE
    *etagc DQUOTE, where etagc is any visible character but DQUOTE, comma included)."""
    text = value.strip()
    if text == "*":
        return ["*"]
    tags: list[str] = []
    position = 0
    while position < len(text) and text[position] in " \t,":
        position += 1
    while position < len(text):
        if text.startswith("W/", position):
            position += 2
        if position >= len(text) or text[position] != '"':
            return None
        end = text.find('"', position + 1)
        if end < 0:
            return None
        opaque = text[position : end + 1]
        if any(not _is_etagc(character) for character in opaque[1:-1]):
            return None
        tags.append(opaque)
        position = _skip_whitespace(text, end + 1)
        if position < len(text) and text[position] != ",":
            return None  # two tags need a comma between them
        # Empty list elements (", ,") are allowed and ignored (RFC 9110 5.6.1).
        while position < len(text) and text[position] in " \t,":
            position += 1
    return tags or None


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _is_etagc(character: str) -> bool:
    code = ord(character)
    return code == 0x21 or 0x23 <= code <= 0x7E or code >= 0x80


def none_match(header_values: list[str], etag: str) -> bool:
    """Whether If-None-Match (each line of it) matches the current `etag`: the condition is
    false, so the answer is 304. `*` matches any current representation."""
    opaque = etag.removeprefix("W/")
    for value in header_values:
        tags = parse_if_none_match(value)
        if tags is None:
            return False  # an invalid field: ignored, as if the precondition were absent
        if "*" in tags or opaque in tags:
            return True
    return False


def request_header_values(app: Any, name: str) -> list[str]:
    """Every value of a request header, from API Gateway's multiValueHeaders (any case)."""
    event = app.current_event
    wanted = name.lower()
    multi: dict[str, list[str]] = event.multi_value_headers or {}
    values = [v for key, lines in multi.items() if key.lower() == wanted for v in lines or []]
    if values:
        return values
    single = event.headers.get(name)
    return [single] if single is not None else []


class PublicCache(BaseMiddlewareHandler):
    """Route middleware: ETag + `Cache-Control: public, max-age=N` on a 200, 304 on a match."""

    def __init__(self, max_age_seconds: int) -> None:
        super().__init__()
        if max_age_seconds < 0:
            raise ValueError("max-age is a number of seconds, at least 0")
        self.cache_control = f"public, max-age={max_age_seconds}"

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        response = next_middleware(app)
        if response.status_code != 200:
            return response
        body = response.body
        if not isinstance(body, str | bytes):
            # What the resolver's default serializer would send (the body is already
            # JSON-ready: the response validation ran inside this middleware).
            body = json.dumps(body, separators=(",", ":"))
            response.body = body
        raw = body.encode("utf-8") if isinstance(body, str) else body
        etag = strong_etag(raw)
        headers = {"ETag": etag, "Cache-Control": self.cache_control}
        if none_match(request_header_values(app, IF_NONE_MATCH), etag):
            return Response(status_code=NOT_MODIFIED, body=None, headers=headers)
        response.headers.update(headers)
        return response


def may_be_not_modified(declaration: dict[str, Any]) -> dict[str, Any]:
    """A route declaration (`shop_shared.http.operation(...)`) that also documents 304: no body
    (an empty `content`, so the return annotation's schema is not given to it)."""
    responses = dict(declaration.get("responses", {}))
    responses[NOT_MODIFIED] = {
        "description": (
            "Not Modified: If-None-Match names the current ETag (or is *); no body, the same "
            "ETag and Cache-Control as the 200"
        ),
        "content": {},
    }
    return {**declaration, "responses": responses}
