"""Send a file of requests through the API once localcloud is ready (the demo catalog).

The file is a JSON list of `{"method", "path", "body", "user", "admin"}`; each request carries
an ID token of `user` (an admin when `admin` is true), so seeding goes through the same
authorizer and functions as any client.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.cognito.tokens import issue_id_token

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.seed")


def seed(cloud: LocalCloud, path: Path) -> None:
    from localcloud.awsclients import AwsClients

    requests: list[dict[str, Any]] = json.loads(path.read_text())
    pool = cloud.user_pools()[0]
    cognito = AwsClients(cloud.aws_url, in_process=True).cognito
    tokens: dict[tuple[str, bool], str] = {}
    for entry in requests:
        identity = (entry.get("user", "seed-admin"), bool(entry.get("admin", False)))
        if identity not in tokens:
            tokens[identity] = issue_id_token(
                cognito, pool["id"], pool["tokenClientId"], identity[0], admin=identity[1]
            )
        request = urllib.request.Request(
            cloud.api_url + entry["path"],
            data=json.dumps(entry.get("body")).encode() if "body" in entry else None,
            method=entry["method"],
            headers={"Authorization": tokens[identity], "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            log.info("seeded %s %s -> %s", entry["method"], entry["path"], response.status)
