"""The operations dashboard links to where each of the local console's views lives on AWS
(issue 12, item 6): an order's saga executions, its traces, its log lines and events, the
queues with their DLQ redrive, the alarms."""

from __future__ import annotations

import json
import re

from tests.support.template import loaded_template

template = loaded_template()
CONSOLE = "https://${AWS::Region}.console.aws.amazon.com/"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def dashboard_markdown() -> str:
    (dashboard,) = [p for _, p in template.of_type("AWS::CloudWatch::Dashboard")]
    body = dashboard["DashboardBody"]["Fn::Sub"]
    text = body if isinstance(body, str) else body[0]
    # the Sub's ${...} as plain text, so the body parses as the JSON CloudWatch will read
    document = json.loads(re.sub(r"\$\{([^}]+)\}", r"<<\1>>", text))
    texts = [w["properties"]["markdown"] for w in document["widgets"] if w["type"] == "text"]
    assert len(texts) == 1, "one 'Where to look' text widget"
    return texts[0].replace("<<", "${").replace(">>", "}")


def test_the_dashboard_links_to_each_console_view_on_aws() -> None:
    links = LINK.findall(dashboard_markdown())

    for link in links:  # every link is the region's AWS console, never a fixed region
        assert link.startswith(CONSOLE), link
        assert "region=${AWS::Region}" in link, link
    pages = {link.removeprefix(CONSOLE) for link in links}
    for state_machine in ["OrderSagaStateMachine", "OrderCancellationStateMachine"]:
        assert any(p.endswith(f"#/statemachines/view/${{{state_machine}}}") for p in pages)
    assert any(p.endswith("#xray:traces/query") for p in pages)
    assert any(p.endswith("#xray:service-map/map") for p in pages)
    assert any(p.endswith("#logsV2:logs-insights") for p in pages)
    assert any(p.endswith("#item-explorer?table=${OrdersTable}") for p in pages)
    assert any(p.startswith("sqs/") for p in pages)
    assert any(p.endswith("#alarmsV2:") for p in pages)


def test_every_resource_the_links_name_is_in_the_template() -> None:
    named = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", dashboard_markdown()))

    assert named
    assert named <= set(template.resources)
