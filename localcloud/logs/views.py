"""/_localcloud/logs and /_localcloud/orders/<id>/story (JSON for the console and the CLI)."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError
from werkzeug.wrappers import Request, Response

from localcloud.awsclients import AwsClients
from localcloud.endpoint.answers import json_error, json_response
from localcloud.logs.logbook import LogBook
from localcloud.logs.story import SentEmails, execution_names, order_story
from localcloud.spec import ACCOUNT_ID, REGION

_STORY_PATH = re.compile(r"^/_localcloud/orders/(?P<id>[A-Za-z0-9_.:-]{1,128})/story$")


class LogViews:
    def __init__(self, logbook: LogBook, endpoint_url: str, sent_emails: SentEmails) -> None:
        self._logbook = logbook
        self._clients = AwsClients(endpoint_url, in_process=True)
        self._sent_emails = sent_emails

    def __call__(self, request: Request) -> Response | None:
        if request.path == "/_localcloud/logs":
            return self.logs(request)
        if request.path.startswith("/_localcloud/orders/"):
            match = _STORY_PATH.match(request.path)
            if match is None:
                expected = "expected /_localcloud/orders/<id>/story"
                return json_error(400, "VALIDATION_ERROR", expected)
            return self.story(match["id"])
        return None

    def logs(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "200"))
        except ValueError:
            return json_error(400, "VALIDATION_ERROR", "limit must be an integer")
        if not 0 <= limit <= 100_000:
            return json_error(400, "VALIDATION_ERROR", "limit must be between 0 and 100000")
        lines = self._logbook.lines(
            function=request.args.get("function") or None,
            order_id=request.args.get("order") or None,
            limit=limit,
        )
        return json_response(200, {"lines": [line.as_json() for line in lines]})

    def story(self, order_id: str) -> Response:
        story = order_story(order_id, self._logbook, self._histories, self._sent_emails)
        if story is None:
            return json_error(404, "NOT_FOUND", f"nothing is known of order {order_id}")
        return json_response(200, story)

    def _histories(self, order_id: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
        sfn = self._clients.stepfunctions
        found = []
        machines = sfn.list_state_machines()["stateMachines"]
        for machine in machines:
            for name in execution_names(order_id):
                arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{machine['name']}:{name}"
                try:
                    sfn.describe_execution(executionArn=arn)
                except ClientError:
                    continue
                events: list[dict[str, Any]] = []
                for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
                    events += [dict(event) for event in page["events"]]
                found.append((machine["name"], arn, events))
        return found
