"""AWS/WAFV2 metrics of a web ACL, as WAF publishes them: AllowedRequests, BlockedRequests and
CountedRequests per rule (dimension Rule: the rule's metric name) and for the whole ACL (Rule
ALL), with WebACL and Region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.cloudwatch.metrics import Datum
from localcloud.spec import REGION

if TYPE_CHECKING:
    from localcloud.cloudwatch.metrics import MetricsPublisher
    from localcloud.waf.acl import Verdict

_METRIC = {"ALLOW": "AllowedRequests", "BLOCK": "BlockedRequests"}


class WafMetrics:
    def __init__(self, publisher: MetricsPublisher, web_acl_metric_name: str) -> None:
        self._publisher = publisher
        self._web_acl = web_acl_metric_name

    def record(self, verdict: Verdict) -> None:
        metric = _METRIC[verdict.action]
        rules = ["ALL", *([verdict.rule] if verdict.rule else [])]
        datums = [self._datum(metric, rule) for rule in rules]
        datums += [self._datum("CountedRequests", rule) for rule in verdict.counted_by]
        self._publisher.put(*datums)

    def _datum(self, metric: str, rule: str) -> Datum:
        dimensions = {"WebACL": self._web_acl, "Rule": rule, "Region": REGION}
        return Datum.of("AWS/WAFV2", metric, 1, dimensions=dimensions, unit="Count")
