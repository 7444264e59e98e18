"""Sealed values in tests (shop_shared.sealing): the customer-data key on moto, and a small
fake that seals reversibly and, like KMS, opens only under the context it sealed with."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import boto3

from shop_shared.sealing import KmsOpener, KmsSealer, SealedValueUnreadable

CUSTOMER_DATA_KEY_ALIAS = "alias/customer-data"


def moto_key(alias: str, description: str) -> str:
    """The KMS key named `alias` in the current moto, made on first use: its ARN."""
    kms = boto3.client("kms")
    try:
        arn: str = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        arn = kms.create_key(Description=description)["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def customer_data_key() -> str:
    """The customer-data KMS key of the current moto (template.yaml's CustomerDataKey): its
    ARN, for CUSTOMER_DATA_KEY_ID."""
    return moto_key(CUSTOMER_DATA_KEY_ALIAS, "customer data")


def open_on_moto(ciphertext: str, context: Mapping[str, str]) -> str:
    """What a consumer with kms:Decrypt reads from a value sealed with the customer-data key."""
    return KmsOpener(customer_data_key()).open(ciphertext, context)


class FakeSealer:
    """Seals as base64 JSON of (context, plaintext): readable by tests, opened only by a
    FakeOpener under the same context."""

    def seal(self, plaintext: str, context: Mapping[str, str]) -> str:
        sealed = json.dumps({"context": dict(context), "plaintext": plaintext}, sort_keys=True)
        return base64.b64encode(sealed.encode()).decode()


class FakeOpener:
    def open(self, ciphertext: str, context: Mapping[str, str]) -> str:
        try:
            sealed = json.loads(base64.b64decode(ciphertext, validate=True))
        except ValueError as error:
            raise SealedValueUnreadable("not a sealed value") from error
        if sealed["context"] != dict(context):
            raise SealedValueUnreadable("sealed for something else")
        plaintext: str = sealed["plaintext"]
        return plaintext


def fake_seal(plaintext: str, context: Mapping[str, str]) -> str:
    return FakeSealer().seal(plaintext, context)


def seal_on_moto(plaintext: str, context: Mapping[str, str]) -> str:
    """What a producer with kms:Encrypt publishes: `plaintext` sealed with the customer-data key."""
    return KmsSealer(customer_data_key()).seal(plaintext, context)


def sealed_for_order(order_id: str, address: Mapping[str, str]) -> str:
    """An order's shipping address as OrderPlaced and the saga input carry it (PlaceOrder)."""
    return seal_on_moto(json.dumps(address), {"orderId": order_id, "field": "shippingAddress"})


def sealed_for_customer(customer_id: str, address: Mapping[str, str]) -> str:
    """A customer's address as CustomerRegistered carries it (RegisterCustomer)."""
    return seal_on_moto(json.dumps(address), {"customerId": customer_id, "field": "address"})
