"""Dollars from localcloud's billing counts (`/_localcloud/billing`) and bench/prices.json.

What is measured and what is modelled:

- measured on localcloud: every count (requests, DynamoDB units from the real items, events,
  messages, Step Functions transitions and Express durations, log bytes) and each Lambda
  invocation's duration (init and handler, on this machine's workers);
- modelled: the architecture (the same measured durations priced at arm64's or x86_64's
  GB-second) and the memory sweep (`scaled_ms`): a measured duration is taken as the duration
  at the template's memory, and its CPU-bound share scales with the vCPU Lambda allocates in
  proportion to memory (one full vCPU at 1,769 MB; a single-threaded handler gains nothing
  above it); the rest (waiting on DynamoDB, the payment provider) does not scale.

What is per order and what is not: WAF inspects every request the API stage receives (the web
ACL associated with it answers first), so its per-request price is per order, counted from
the API requests localcloud's gateway saw; a web ACL's and its rules' monthly prices are not
(`monthly_fixed`). Cognito bills monthly active users, however many orders each places: zero
per order at a given number of users, a monthly price per 1,000 of them (`cognito_monthly`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.json")
FULL_VCPU_MB = 1769  # Lambda: a function with 1,769 MB has the equivalent of one vCPU
SERVICES = (
    "lambda",
    "dynamodb",
    "stepFunctions",
    "apiGateway",
    "waf",
    "eventBridge",
    "sqs",
    "ses",
    "cloudWatchLogs",
    "xray",
    "other",
)


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text())
    return prices


def scaled_ms(measured_ms: float, from_mb: int, to_mb: int, cpu_fraction: float) -> float:
    """A duration measured at `from_mb`, modelled at `to_mb` (see the module's docstring)."""
    speedup = min(from_mb, FULL_VCPU_MB) / min(to_mb, FULL_VCPU_MB)
    return measured_ms * (cpu_fraction * speedup + (1 - cpu_fraction))


def lambda_cost(
    functions: Mapping[str, Mapping[str, Any]],
    prices: Mapping[str, Any],
    *,
    architecture: str | None = None,
    memory_mb: int | None = None,
    cpu_fraction: float = 0.5,
) -> float:
    """Requests plus GB-seconds of every function, at its own memory and architecture, or at
    the `architecture` and `memory_mb` given (the durations then scaled by `scaled_ms`)."""
    table = prices["lambda"]
    total = 0.0
    for row in functions.values():
        measured_at = int(row.get("memoryMb", 128))
        memory = memory_mb or measured_at
        billed_ms = row["billedMs"]
        if memory != measured_at:
            billed_ms = scaled_ms(billed_ms, measured_at, memory, cpu_fraction)
        gb_seconds = billed_ms / 1000 * memory / 1024
        arch = architecture or row.get("architecture", "x86_64")
        total += row["requests"] * table["perMillionRequests"] / 1e6
        total += gb_seconds * table["perGbSecond"][arch]
    return total


def cost_by_service(
    billing: Mapping[str, Any],
    prices: Mapping[str, Any],
    *,
    architecture: str | None = None,
    memory_mb: int | None = None,
    cpu_fraction: float = 0.5,
    web_acl: bool = False,
) -> dict[str, float]:
    """Dollars of one counted run, by service (per-request and per-byte charges only: the
    monthly charges of metrics, alarms, secrets, keys and web ACLs are `monthly_fixed`).
    `web_acl`: a WAF web ACL is associated with the API's stage, so it inspects (and WAF
    bills) every request the stage received, allowed or blocked."""
    # API calls the functions made (localcloud's own CloudWatch and pollers are not billed)
    calls = billing.get("functionCalls", {})
    ddb = prices["dynamodb"]
    sfn = prices["stepFunctions"]
    cw = prices["cloudWatch"]
    read_units = sum(t["readUnits"] for t in billing["dynamodb"].values())
    write_units = sum(t["writeUnits"] + t["indexWriteUnits"] for t in billing["dynamodb"].values())
    steps = billing["stepFunctions"]
    express_gb_seconds = steps["expressBilledMs"] / 1000 * steps["expressMemoryMb"] / 1024
    log_bytes = sum(billing["cloudWatch"]["logBytes"].values())
    secrets = sum(n for name, n in calls.items() if name.startswith("secretsmanager:"))
    kms = sum(n for name, n in calls.items() if name.startswith("kms:"))
    put_metric_data = calls.get("monitoring:PutMetricData", 0)
    return {
        "lambda": lambda_cost(
            billing["lambda"],
            prices,
            architecture=architecture,
            memory_mb=memory_mb,
            cpu_fraction=cpu_fraction,
        ),
        "dynamodb": read_units * ddb["perMillionReadRequestUnits"] / 1e6
        + write_units * ddb["perMillionWriteRequestUnits"] / 1e6,
        "stepFunctions": steps["standardTransitions"] * sfn["standardPerThousandTransitions"] / 1e3
        + steps["expressRequests"] * sfn["expressPerMillionRequests"] / 1e6
        + express_gb_seconds * sfn["expressPerGbSecond"],
        "apiGateway": billing["apiGateway"]["requests"]
        * prices["apiGateway"]["restPerMillionRequests"]
        / 1e6,
        "waf": billing["apiGateway"]["requests"] * prices["waf"]["perMillionRequests"] / 1e6
        if web_acl
        else 0.0,
        "eventBridge": billing["eventBridge"]["events64KB"]
        * prices["eventBridge"]["perMillionCustomEvents"]
        / 1e6,
        "sqs": billing["sqs"]["requests"] * prices["sqs"]["perMillionStandardRequests"] / 1e6,
        "ses": billing["ses"]["messages"] * prices["ses"]["perThousandMessages"] / 1e3,
        "cloudWatchLogs": log_bytes / 1024**3 * cw["logsPerGbIngested"],
        "xray": billing["xray"]["traces"] * prices["xray"]["perMillionTracesRecorded"] / 1e6,
        "other": secrets * prices["secretsManager"]["perTenThousandApiCalls"] / 1e4
        + kms * prices["kms"]["perTenThousandRequests"] / 1e4
        + put_metric_data * cw["perThousandPutMetricDataRequests"] / 1e3,
    }


def per_thousand_orders(costs: Mapping[str, float], orders: int) -> dict[str, float]:
    return {service: value * 1000 / orders for service, value in costs.items()}


def monthly_fixed(
    custom_metrics: int,
    alarms: int,
    secrets: int,
    keys: int,
    prices: Mapping[str, Any],
    *,
    web_acls: int = 0,
    waf_rules: int = 0,
) -> dict[str, float]:
    """What the stack costs per month whatever the number of orders (not per order)."""
    return {
        "customMetrics": custom_metrics * prices["cloudWatch"]["perCustomMetricMonth"],
        "alarms": alarms * prices["cloudWatch"]["perAlarmMonth"],
        "secrets": secrets * prices["secretsManager"]["perSecretMonth"],
        "kmsKeys": keys * prices["kms"]["perKeyMonth"],
        "wafWebAcls": web_acls * prices["waf"]["perWebAclMonth"],
        "wafRules": waf_rules * prices["waf"]["perRuleMonth"],
    }


def cognito_monthly(
    monthly_active_users: int,
    prices: Mapping[str, Any],
    *,
    plan: str | None = None,
    free_tier: bool = False,
) -> float:
    """A user pool's month for `monthly_active_users` at its feature plan (the default plan
    when None), at the first tier's price; the free MAUs are taken off only when asked (the
    rest of this table prices without free tiers)."""
    table = prices["cognito"]
    tier = plan or table["defaultFeaturePlan"]
    free = table["freeMauPerMonth"][tier] if free_tier else 0
    return max(0, monthly_active_users - free) * table["perMauMonth"][tier]
