"""Values sealed with a KMS key under an encryption context (issue 11, "Secrets and logs").

A value that must cross the bus or the saga but that only one consumer may read (the card
token, a customer's email and address, an order's shipping address) is encrypted by its
producer and opened by that consumer alone:

- IAM decides who may: the producer's role has kms:Encrypt on the key, the consumer's
  kms:Decrypt, nobody else either;
- the encryption context binds the ciphertext to what it belongs to (`{"orderId": ...}`,
  `{"customerId": ..., "field": "email"}`): KMS opens it only under the same context, so a
  ciphertext copied into another order's or customer's event is refused.

Only the base64 ciphertext is stored, published or passed on; the plaintext lives in the
consumer's memory and is never logged. The KMS client is made on first use (cold start).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import boto3
from pydantic import StringConstraints

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

EncryptionContext = Mapping[str, str]

# A sealed value as events and saga inputs carry it: KMS's ciphertext blob, base64.
SealedValue = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9+/]+={0,2}$", min_length=16, max_length=8192)
]


class Sealer(Protocol):
    def seal(self, plaintext: str, context: EncryptionContext) -> str: ...


class Opener(Protocol):
    def open(self, ciphertext: str, context: EncryptionContext) -> str: ...


class SealedValueUnreadable(Exception):
    """Not a sealed value, not sealed with this key, or sealed under another context."""


class KmsSealer:
    """Encrypts values with one KMS key (the producer's side: kms:Encrypt only)."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._key_id = key_id
        # made at init, where Lambda gives the CPU: most requests seal something
        self._client: KMSClient = client if client is not None else boto3.client("kms")

    def seal(self, plaintext: str, context: EncryptionContext) -> str:
        blob = self._client.encrypt(
            KeyId=self._key_id, Plaintext=plaintext.encode(), EncryptionContext=dict(context)
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode()


class KmsOpener:
    """Decrypts values sealed with one KMS key (the consumer's side: kms:Decrypt)."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._key_id = key_id
        # made at init, where Lambda gives the CPU: most requests open something
        self._client: KMSClient = client if client is not None else boto3.client("kms")

    def open(self, ciphertext: str, context: EncryptionContext) -> str:
        try:
            blob = base64.b64decode(ciphertext, validate=True)
        except binascii.Error as error:
            raise SealedValueUnreadable("not a sealed value") from error
        try:
            plaintext = self._client.decrypt(
                CiphertextBlob=blob, KeyId=self._key_id, EncryptionContext=dict(context)
            )["Plaintext"]
        except (
            self._client.exceptions.InvalidCiphertextException,
            self._client.exceptions.IncorrectKeyException,
        ) as error:
            raise SealedValueUnreadable(
                "not sealed with this key, or sealed for something else"
            ) from error
        return plaintext.decode()
