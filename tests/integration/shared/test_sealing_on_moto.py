"""shop_shared.sealing on moto's KMS: a sealed value opens only with its key and under the
encryption context it was sealed with; anything else is SealedValueUnreadable, and nothing of
the plaintext is in the ciphertext."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from shop_shared.sealing import KmsOpener, KmsSealer, SealedValueUnreadable

EMAIL = "ada@example.com"
CONTEXT = {"customerId": "c-1", "field": "email"}


@pytest.fixture
def kms() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("kms", region_name="eu-west-1")


def _key(kms: Any) -> str:
    arn: str = kms.create_key(Description="customer data")["KeyMetadata"]["Arn"]
    return arn


def test_a_sealed_value_opens_under_its_own_context(kms: Any) -> None:
    # Given a value sealed for one customer's email
    key = _key(kms)
    sealed = KmsSealer(key, kms).seal(EMAIL, CONTEXT)

    # Then the ciphertext does not carry it, and the same key and context open it
    assert EMAIL not in sealed
    assert EMAIL.encode() not in base64.b64decode(sealed)
    assert KmsOpener(key, kms).open(sealed, CONTEXT) == EMAIL


@pytest.mark.parametrize(
    "context",
    [
        {"customerId": "c-2", "field": "email"},  # another customer's
        {"customerId": "c-1", "field": "address"},  # another field
        {"customerId": "c-1"},  # part of the context
    ],
)
def test_another_context_is_refused(kms: Any, context: dict[str, str]) -> None:
    # Given a value sealed for customer c-1's email
    key = _key(kms)
    sealed = KmsSealer(key, kms).seal(EMAIL, CONTEXT)

    # When it is opened under another context, then KMS refuses it
    with pytest.raises(SealedValueUnreadable):
        KmsOpener(key, kms).open(sealed, context)


def test_another_key_and_a_value_that_is_not_sealed_are_refused(kms: Any) -> None:
    # Given a value sealed with one key
    sealed = KmsSealer(_key(kms), kms).seal(EMAIL, CONTEXT)
    other = KmsOpener(_key(kms), kms)

    # Then another key does not open it (AWS answers IncorrectKeyException, which the opener
    # reports as SealedValueUnreadable; moto answers AccessDeniedException), nor is clear text
    # taken for a sealed value
    with pytest.raises((SealedValueUnreadable, ClientError)):
        other.open(sealed, CONTEXT)
    with pytest.raises(SealedValueUnreadable):
        other.open(EMAIL, CONTEXT)
