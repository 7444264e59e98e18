"""The card token, opened only here (issue 11, finding 3).

PlaceOrder sealed it with the payment-token KMS key under the encryption context
{"orderId": <order id>} (orders.payment_token); only ChargePayment's role may use the key for
Decrypt, and KMS opens the ciphertext only for the order it was sealed for. The plaintext lives
in ChargePayment's memory for one provider call: it is never logged, stored or returned.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

from payments.errors import PaymentTokenUnreadable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

TokenOpener = Callable[[str, str], str]  # (ciphertext, order id) -> token


class KmsTokenOpener:
    """Decrypts an order's sealed token with the payment-token key; the client is made on
    first use."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._key_id = key_id
        self._client: KMSClient | None = client

    def __call__(self, ciphertext: str, order_id: str) -> str:
        if self._client is None:
            self._client = boto3.client("kms")
        try:
            blob = base64.b64decode(ciphertext, validate=True)
        except binascii.Error as error:
            raise PaymentTokenUnreadable(
                "The payment token is not a sealed token", order_id=order_id
            ) from error
        try:
            plaintext = self._client.decrypt(
                CiphertextBlob=blob, KeyId=self._key_id, EncryptionContext={"orderId": order_id}
            )["Plaintext"]
        except self._client.exceptions.InvalidCiphertextException as error:
            # Not sealed with this key, or sealed for another order.
            raise PaymentTokenUnreadable(
                "The payment token was not sealed for this order", order_id=order_id
            ) from error
        return plaintext.decode()
