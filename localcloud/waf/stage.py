"""A web ACL in front of one API stage: each request is evaluated, counted in AWS/WAFV2 and,
when blocked, answered by the gateway with WAF_FILTERED (403) before anything else runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from localcloud.waf.acl import WebAcl
    from localcloud.waf.metrics import WafMetrics

log = logging.getLogger(__name__)


class StageWebAcl:
    def __init__(self, acl: WebAcl, metrics: WafMetrics | None = None) -> None:
        self.acl = acl
        self._metrics = metrics

    def blocks(self, source_ip: str, headers: Mapping[str, str]) -> bool:
        verdict = self.acl.evaluate(source_ip, headers)
        if self._metrics is not None:
            self._metrics.record(verdict)
        if verdict.action == "BLOCK":
            log.info("blocked by web ACL", extra={"web_acl": self.acl.name, "rule": verdict.rule})
            return True
        return False
