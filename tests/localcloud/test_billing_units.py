"""The billing units, against the worked examples of AWS's documentation:

- DynamoDB item sizes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
- DynamoDB read and write units: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
  and https://aws.amazon.com/dynamodb/pricing/provisioned/ ("a transactional write request of
  a 3 KB item would require six WCUs"; "an eventually consistent read of an 8 KB item would
  require one RCU, and a transactional read of an 8 KB item would require four RCUs")
- EventBridge entry size: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
- SQS: https://aws.amazon.com/sqs/pricing/ ("a 256 KB payload is billed as four requests")

and the prices of bench/pricing.py against bench/prices.json (WAF per request inspected and per
web ACL and rule a month; Cognito per monthly active user, never per order).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.cost import stack
from bench.pricing import (
    cognito_monthly,
    cost_by_service,
    load_prices,
    monthly_fixed,
    per_thousand_orders,
    scaled_ms,
)
from localcloud.billing import units
from localcloud.billing.meter import _emf_metrics, _transitions


def test_item_size_adds_attribute_names_and_values() -> None:
    # Given a string, a number with 5 significant digits, a Boolean and a null
    item: dict[str, dict[str, Any]] = {
        "Name": {"S": "Alice"},  # 4 + 5
        "Price": {"N": "12.345"},  # 5 + ceil(5 / 2) + 1 = 5 + 4
        "Paid": {"BOOL": True},  # 4 + 1
        "Note": {"NULL": True},  # 4 + 1
    }
    # Then the item is the sum of the names' and the values' bytes
    assert units.item_size(item) == 9 + 9 + 5 + 5


def test_number_size_trims_leading_and_trailing_zeros() -> None:
    assert units.number_size("1000") == units.number_size("1") == 2
    assert units.number_size("0.0012") == 2  # significant digits "12"
    assert units.number_size("123456") == 4


def test_list_and_map_cost_three_bytes_plus_one_per_element() -> None:
    # A list of two one-letter strings: 3 + (1 + 1) * 2; a map {"a": "b"}: 3 + 1 + 1 + 1
    assert units.value_size({"L": [{"S": "x"}, {"S": "y"}]}) == 7
    assert units.value_size({"M": {"a": {"S": "b"}}}) == 6
    assert units.value_size({"M": {}}) == 3


def test_utf8_strings_count_bytes_not_characters() -> None:
    assert units.item_size({"n": {"S": "é"}}) == 1 + 2


@pytest.mark.parametrize(
    ("size", "transactional", "expected"),
    [
        (0, False, 1),  # a delete of a missing item still takes one unit
        (500, False, 1),
        (1024, False, 1),
        (1025, False, 2),
        (3 * 1024, False, 3),
        (3 * 1024, True, 6),  # AWS's example: a transactional 3 KB write is six units
    ],
)
def test_write_units_round_up_to_1_kb(size: int, transactional: bool, expected: int) -> None:
    assert units.write_units(size, transactional=transactional) == expected


@pytest.mark.parametrize(
    ("size", "consistent", "transactional", "expected"),
    [
        (3500, True, False, 1.0),  # AWS: a 3,500-byte item reads as 4 KB
        (8 * 1024, True, False, 2.0),  # AWS: 8 KB strongly consistent is two units
        (8 * 1024, False, False, 1.0),  # ... eventually consistent, one
        (8 * 1024, False, True, 4.0),  # ... transactional, four
        (10 * 1024, True, False, 3.0),  # AWS: a 10 KB item is rounded to 12 KB
        (0, False, False, 0.5),  # an item not found still takes the minimum
    ],
)
def test_read_units_round_up_to_4_kb(
    size: int, consistent: bool, transactional: bool, expected: float
) -> None:
    assert units.read_units(size, consistent=consistent, transactional=transactional) == expected


def test_batch_get_rounds_each_item_but_query_rounds_the_sum() -> None:
    # AWS's example: BatchGetItem of 1.5 KB and 6.5 KB items reads as 4 KB + 8 KB = 12 KB,
    sizes = [1536, 6656]
    assert units.batch_read_units(sizes, consistent=True) == 3.0
    # while a Query returning the same two items reads 8 KB in all.
    assert units.read_units(sum(sizes), consistent=True) == 2.0


def test_put_events_entry_size_and_64_kb_chunks() -> None:
    entry = {
        "Time": "2026-12-01T00:00:00Z",  # 14 bytes, whatever its text
        "Source": "shop.orders",  # 11
        "DetailType": "OrderPlaced",  # 11
        "Detail": '{"a":1}',  # 7
        "Resources": ["arn:x"],  # 5
    }
    assert units.put_events_entry_size(entry) == 14 + 11 + 11 + 7 + 5
    assert units.chunks_64kb(64 * 1024) == 1
    assert units.chunks_64kb(64 * 1024 + 1) == 2


def test_sqs_256_kb_payload_is_four_requests() -> None:
    assert units.chunks_64kb(units.sqs_message_size("x" * 256 * 1024)) == 4
    # message attributes count: name, data type and value
    attributes = {"k": {"DataType": "String", "StringValue": "v"}}
    assert units.sqs_message_size("body", attributes) == 4 + 1 + 6 + 1


def test_lambda_and_express_duration_rounding() -> None:
    assert units.lambda_billed_ms(1.2) == 2
    assert units.gb_seconds(1000, 1024) == 1.0
    assert units.gb_seconds(2000, 512) == 1.0
    assert units.express_billed_ms(150) == 200
    assert units.express_billed_ms(20) == 100
    assert units.express_memory_mb(1000) == 64


def _billing(**parts: Any) -> dict[str, Any]:
    """A count of nothing, as /_localcloud/billing answers it, with `parts` filled in."""
    billing: dict[str, Any] = {
        "lambda": {},
        "dynamodb": {},
        "stepFunctions": {
            "standardTransitions": 0,
            "expressRequests": 0,
            "expressBilledMs": 0,
            "expressMemoryMb": 64,
        },
        "apiGateway": {"requests": 0},
        "eventBridge": {"events64KB": 0},
        "sqs": {"requests": 0},
        "ses": {"messages": 0},
        "cloudWatch": {"logBytes": {}},
        "xray": {"traces": 0},
        "calls": {},
        "functionCalls": {},
    }
    for name, value in parts.items():
        billing[name] = {**billing[name], **value} if isinstance(value, dict) else value
    return billing


def test_standard_transitions_price_as_the_issue_says() -> None:
    # Given 1,000 orders of 10 STANDARD transitions each and nothing else
    billing = _billing(stepFunctions={"standardTransitions": 10_000})
    # When priced, Then Step Functions costs $0.025 per 1,000 transitions: $0.25 in all
    costs = cost_by_service(billing, load_prices())
    assert costs["stepFunctions"] == pytest.approx(0.25)
    assert sum(costs.values()) == pytest.approx(0.25)


def test_lambda_price_per_architecture_and_modelled_memory() -> None:
    # Given one function: a million requests of 100 ms each at 1,024 MB (100,000 GB-s)
    functions = {"F": {"requests": 1_000_000, "billedMs": 100_000_000, "memoryMb": 1024}}
    billing = _billing(**{"lambda": functions})
    prices = load_prices()
    arm = cost_by_service(billing, prices, architecture="arm64")["lambda"]
    x86 = cost_by_service(billing, prices, architecture="x86_64")["lambda"]
    # Then: $0.20 of requests plus 100,000 GB-s at each architecture's rate
    assert arm == pytest.approx(0.2 + 100_000 * 0.0000133334)
    assert x86 == pytest.approx(0.2 + 100_000 * 0.0000166667)
    # And a wholly CPU-bound duration halves with twice the memory (below one vCPU)
    assert scaled_ms(100, 512, 1024, cpu_fraction=1.0) == pytest.approx(50)
    assert scaled_ms(100, 512, 1024, cpu_fraction=0.0) == pytest.approx(100)
    assert scaled_ms(100, 1769, 3008, cpu_fraction=1.0) == pytest.approx(100)


def test_standard_transitions_are_states_entered_plus_retries() -> None:
    # Given a history: a DynamoDB task, then a Lambda task scheduled three times (two retries)
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "TaskStateEntered"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionFailed"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionFailed"},
        {"type": "LambdaFunctionScheduled"},
        {"type": "LambdaFunctionSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "SucceedStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    # Then three states entered and two retries: five transitions
    assert _transitions(history) == 5


def test_emf_line_defines_a_metric_per_name_and_dimension_values() -> None:
    line = (
        '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Shop", '
        '"Dimensions": [["service"]], "Metrics": [{"Name": "OrderPlaced"}, {"Name": "Lag"}]}]}, '
        '"service": "orders", "OrderPlaced": [1], "Lag": [3]}'
    )
    assert sorted(_emf_metrics(line)) == [
        ("Shop", "Lag", (("service", "orders"),)),
        ("Shop", "OrderPlaced", (("service", "orders"),)),
    ]
    assert _emf_metrics("not json {") == []


def test_waf_prices_every_api_request_its_web_acl_inspects() -> None:
    # Given a million API requests, and nothing else
    billing = _billing(apiGateway={"requests": 1_000_000})
    prices = load_prices()
    # When priced with a web ACL on the stage
    costs = cost_by_service(billing, prices, web_acl=True)
    # Then WAF bills $0.60 per million inspected, beside API Gateway's own $3.50
    assert prices["waf"]["perMillionRequests"] == 0.6
    assert costs["waf"] == pytest.approx(0.60)
    assert costs["apiGateway"] == pytest.approx(3.50)
    assert sum(costs.values()) == pytest.approx(4.10)
    # And without a web ACL there is nothing to inspect
    assert cost_by_service(billing, prices, web_acl=False)["waf"] == 0.0


def test_waf_per_request_share_of_1000_orders() -> None:
    # Given 100 orders that took 201 API requests (a POST and a GET each, one more)
    billing = _billing(apiGateway={"requests": 201})
    # When priced per 1,000 orders with the web ACL
    costs = per_thousand_orders(cost_by_service(billing, load_prices(), web_acl=True), 100)
    # Then 2,010 requests at $0.60 per million
    assert costs["waf"] == pytest.approx(2010 * 0.6 / 1e6)


def test_web_acl_and_rules_are_monthly_not_per_order() -> None:
    # Given one web ACL with one rule and nothing else
    fixed = monthly_fixed(0, 0, 0, 0, load_prices(), web_acls=1, waf_rules=1)
    # Then a month costs $5 for the web ACL and $1 for the rule
    assert fixed["wafWebAcls"] == pytest.approx(5.0)
    assert fixed["wafRules"] == pytest.approx(1.0)
    assert sum(fixed.values()) == pytest.approx(6.0)


def test_cognito_prices_monthly_active_users_at_the_feature_plan() -> None:
    prices = load_prices()
    # Given the default plan (a pool with no UserPoolTier is ESSENTIALS)
    assert prices["cognito"]["defaultFeaturePlan"] == "ESSENTIALS"
    # Then 1,000 monthly active users cost $15 a month, $5.50 on LITE, $20 on PLUS
    assert cognito_monthly(1000, prices) == pytest.approx(15.0)
    assert cognito_monthly(1000, prices, plan="LITE") == pytest.approx(5.5)
    assert cognito_monthly(1000, prices, plan="PLUS") == pytest.approx(20.0)
    # And the account's free monthly active users come off only when asked
    assert cognito_monthly(12_000, prices, free_tier=True) == pytest.approx(2000 * 0.015)
    assert cognito_monthly(5_000, prices, free_tier=True) == 0.0


def test_the_template_puts_one_web_acl_with_one_rule_on_the_api() -> None:
    # Given template.yaml, When bench.cost reads what it deploys
    deployed = stack()
    # Then one web ACL is associated (with the API's stage) and has the per-IP rate rule
    assert deployed["webAcls"] == {"WebAcl": 1}
    # And the user pool leaves its feature plan to Cognito's default
    assert deployed["userPools"] == {"UserPool": None}
