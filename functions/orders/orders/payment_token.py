"""The card token sealed at the edge (issue 11, finding 3): PlaceOrder encrypts it with the
shop's payment-token KMS key under the encryption context {"orderId": <order id>}, and only the
ciphertext (base64) is stored, streamed and passed to the saga. Only ChargePayment's role may
decrypt it (payments.payment_token), and only for the order it was sealed for. The sealing
itself is shop_shared.sealing's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shop_shared.sealing import KmsSealer

TokenSealer = Callable[[str, str], str]  # (token, order id) -> ciphertext


class KmsTokenSealer:
    """Encrypts a token for one order."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._sealer = KmsSealer(key_id, client)

    def __call__(self, token: str, order_id: str) -> str:
        return self._sealer.seal(token, {"orderId": order_id})
