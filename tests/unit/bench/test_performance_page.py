"""The performance page's cost section shows what is not per order instead of hiding it: WAF's
per-request price as a column, its web ACL and rule as monthly lines, Cognito per 1,000 users."""

from __future__ import annotations

from typing import Any

from bench.performance import cost_section
from bench.pricing import SERVICES


def _result() -> dict[str, Any]:
    by_service = {service: 0.0 for service in SERVICES}
    by_service.update({"stepFunctions": 0.15, "waf": 0.0012})
    happy = {
        "workflow": "STANDARD",
        "architecture": "arm64",
        "scenario": "happy",
        "byService": by_service,
        "total": 0.1512,
        "default": True,
    }
    return {
        "command": ".venv/bin/python -m bench.cost",
        "measuredAt": "2026-12-01T20:17:54+00:00",
        "ordersPerScenario": 100,
        "threads": 4,
        "pricesRecorded": "2026-12-01",
        "aimPerThousand": 0.05,
        "webAclOnApi": True,
        "prices": {
            "configurations": [happy, {**happy, "scenario": "mix", "byService": dict(by_service)}],
            "memorySweep": [],
        },
        "runs": {},
        "fixed": {
            "customMetricsSeen": 0,
            "alarms": 0,
            "secrets": 0,
            "kmsKeys": 0,
            "webAcls": 1,
            "wafRules": 1,
            "perMonth": {"wafWebAcls": 5.0, "wafRules": 1.0},
            "amortisedOrdersPerMonth": 100_000,
            "perThousandOrdersAmortised": {"wafWebAcls": 0.05, "wafRules": 0.01},
            "cognito": {
                "userPools": 1,
                "featurePlans": ["ESSENTIALS"],
                "planSetInTemplate": False,
                "perOrder": 0.0,
                "perThousandMauMonth": {"LITE": 5.5, "ESSENTIALS": 15.0, "PLUS": 20.0},
                "freeMauPerMonth": {"LITE": 10000, "ESSENTIALS": 10000, "PLUS": 0},
            },
        },
    }


def test_cost_section_shows_waf_per_request_and_the_monthly_lines() -> None:
    # Given a priced run with WAF's per-request share and its monthly web ACL and rule
    # When the page's cost section is written
    page = "\n".join(cost_section(_result()))
    # Then WAF has its own column, and the default's total says what WAF adds
    assert "| WAF requests |" in page
    assert "of which WAF $0.0012 ($0.1500 without it)" in page
    # And the web ACL and its rule are monthly lines, also spread over the stated volume
    assert "| WAF web ACL | 1 on the API stage | 5.00 | 0.0500 |" in page
    assert "| WAF rules | 1 (the per-IP rate rule) | 1.00 | 0.0100 |" in page
    assert "| **all of the above** | | **6.00** | **0.0600** |" in page
    # And Cognito is nothing per order and a monthly price per 1,000 active users
    assert "**$0 per order**" in page
    assert "**$15.00 a month per 1,000 monthly active users**" in page


def test_a_result_priced_before_waf_says_so_rather_than_zero() -> None:
    # Given a result priced before WAF had a column
    result = _result()
    for configuration in result["prices"]["configurations"]:
        del configuration["byService"]["waf"]
    # Then its WAF cell reads n/a, not a made-up zero
    page = "\n".join(cost_section(result))
    assert "| n/a |" in page
