"""Payments handlers in-process on moto (PaymentsTable as template.yaml declares it, the API
key in Secrets Manager) against the real payment provider simulator on a free local port."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from localcloud.payment_provider.simulator import PaymentProviderSimulator
from tests.support.service_harness import load_sample

API_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
# The payment-provider breaker: >= 50% of >= 5 calls failed in 60 s opens it, 30 s cool-down,
# 1 s cache: each test has a fresh table, so a fresh CLOSED breaker.
BREAKER_ENV = {
    "CIRCUIT_BREAKER_FAILURE_RATE_PERCENT": "50",
    "CIRCUIT_BREAKER_MINIMUM_CALLS": "5",
    "CIRCUIT_BREAKER_WINDOW_SECONDS": "60",
    "CIRCUIT_BREAKER_HALF_OPEN_CALLS": "1",
    "CIRCUIT_BREAKER_COOLDOWN_SECONDS": "30",
    "CIRCUIT_BREAKER_CACHE_TTL_SECONDS": "1",
}


class PaymentsState:
    """What PaymentsTable holds, read back for the Then of each test."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def items(self) -> dict[str, dict[str, Any]]:
        return {item["pk"]: item for item in self.table.scan(ConsistentRead=True)["Items"]}

    def payments(self) -> dict[str, dict[str, Any]]:
        return {pk: item for pk, item in self.items().items() if pk.startswith("PAYMENT#")}

    def breaker(self) -> dict[str, Any] | None:
        """The `payment-provider` circuit breaker's item, None while it never saw a failure."""
        return self.items().get("BREAKER#payment-provider")

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """The events written to the outbox as (detail-type, data), oldest first."""
        events = []
        for pk, item in self.items().items():
            if not pk.startswith("EVENT#"):
                continue
            detail = json.loads(item["detail"])
            assert item["itemType"] == "EVENT"
            assert item["source"] == "shop.payments"
            assert item["eventId"] == detail["metadata"]["eventId"] == pk.removeprefix("EVENT#")
            assert detail["metadata"]["producer"] == "payments"
            assert item["expiresAt"] > 0
            events.append((item["occurredAt"], item["detailType"], detail["data"]))
        return [(detail_type, data) for _, detail_type, data in sorted(events)]


@pytest.fixture
def aws() -> Iterator[None]:
    """As tests/conftest.py's `aws`, but boto3's default session survives from test to test: a
    fresh session re-reads every service model (~0.3 s per client), which dominated these tests.
    Backends (tables, secrets) are still reset for every test."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def provider() -> Iterator[PaymentProviderSimulator]:
    with PaymentProviderSimulator(api_key=API_KEY).serve() as simulator:
        yield simulator


@pytest.fixture
def state(make_table: Any) -> PaymentsState:
    return PaymentsState(make_table("PaymentsTable"))


@pytest.fixture
def api_key_secret_arn(aws: None) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="PaymentProviderApiKeySecret", SecretString=API_KEY
    )["ARN"]
    parameters.clear_caches()  # no key cached from another test's moto
    return arn


@pytest.fixture
def payments_env(
    monkeypatch: pytest.MonkeyPatch,
    state: PaymentsState,
    api_key_secret_arn: str,
    provider: PaymentProviderSimulator,
    payment_token_key: str,
) -> None:
    """The environment template.yaml gives the payments functions."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "payments")
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", "PaymentsTable")
    monkeypatch.setenv("PAYMENT_PROVIDER_BASE_URL", provider.base_url)
    monkeypatch.setenv("SHOP_LOCALCLOUD", "true")  # the simulator is plain http, as on localcloud
    monkeypatch.setenv("PAYMENT_TOKEN_KEY_ID", payment_token_key)
    monkeypatch.setenv("PAYMENT_PROVIDER_API_KEY_SECRET_ARN", api_key_secret_arn)
    for name, value in BREAKER_ENV.items():
        monkeypatch.setenv(name, value)


TOKEN_KEY_ALIAS = "alias/shop/payment-token"


def sealed(token: str, order_id: str) -> str:
    """The token as PlaceOrder seals it (the payment-token key of this moto, for the order)."""
    blob = boto3.client("kms").encrypt(
        KeyId=TOKEN_KEY_ALIAS, Plaintext=token.encode(), EncryptionContext={"orderId": order_id}
    )["CiphertextBlob"]
    return base64.b64encode(blob).decode()


@pytest.fixture
def payment_token_key(aws: None) -> str:
    """The payment-token KMS key (template.yaml's PaymentTokenKey), its ARN."""
    kms = boto3.client("kms")
    arn: str = kms.create_key(Description="payment tokens")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=TOKEN_KEY_ALIAS, TargetKeyId=arn)
    return arn


@pytest.fixture
def sample_event(payment_token_key: str) -> Callable[[str], dict[str, Any]]:
    """A sample event; a sealed token in it is sealed anew, with this moto's key (tok_visa)."""

    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = load_sample(name)
        if "paymentTokenCiphertext" in event:
            event["paymentTokenCiphertext"] = sealed("tok_visa", event["orderId"])
        return event

    return load


def fresh_import(name: str) -> ModuleType:
    """Import a handler module anew: settings and clients are read at import (cold start)."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture
def charge_payment(payments_env: None) -> ModuleType:
    return fresh_import("charge_payment")


@pytest.fixture
def refund_payment(payments_env: None) -> ModuleType:
    return fresh_import("refund_payment")
