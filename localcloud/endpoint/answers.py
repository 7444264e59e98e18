"""The JSON answers of localcloud's own routes (/_localcloud/*, /_console): a body, or an error
as the shop's API gives one, `{"message", "code"}`."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON; what JSON has no type for (datetimes from boto3) as its str()."""
    return Response(
        json.dumps(body, default=str), status=status, headers=headers, mimetype="application/json"
    )


def json_error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"message": message, "code": code})
