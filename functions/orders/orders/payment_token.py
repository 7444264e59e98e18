"""The card token sealed at the edge (issue 11, finding 3): PlaceOrder encrypts it with the
shop's payment-token KMS key under the encryption context {"orderId": <order id>}, and only the
ciphertext (base64) is stored, streamed and passed to the saga. Only ChargePayment's role may
decrypt it (payments.payment_token), and only for the order it was sealed for."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

TokenSealer = Callable[[str, str], str]  # (token, order id) -> ciphertext


class KmsTokenSealer:
    """Encrypts a token for one order; the KMS client is made on first use."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._key_id = key_id
        self._client: KMSClient | None = client

    def __call__(self, token: str, order_id: str) -> str:
        if self._client is None:
            self._client = boto3.client("kms")
        blob = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=token.encode(),
            EncryptionContext={"orderId": order_id},
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode()
