"""The card token, opened only here (issue 11, finding 3).

PlaceOrder sealed it with the payment-token KMS key under the encryption context
{"orderId": <order id>} (orders.payment_token); only ChargePayment's role may use the key for
Decrypt, and KMS opens the ciphertext only for the order it was sealed for. The plaintext lives
in ChargePayment's memory for one provider call: it is never logged, stored or returned. The
opening itself is shop_shared.sealing's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments.errors import PaymentTokenUnreadable
from shop_shared.sealing import KmsOpener, SealedValueUnreadable

TokenOpener = Callable[[str, str], str]  # (ciphertext, order id) -> token


class KmsTokenOpener:
    """Decrypts an order's sealed token with the payment-token key."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self._opener = KmsOpener(key_id, client)

    def __call__(self, ciphertext: str, order_id: str) -> str:
        try:
            return self._opener.open(ciphertext, {"orderId": order_id})
        except SealedValueUnreadable as error:
            # Not sealed with this key, or sealed for another order.
            raise PaymentTokenUnreadable(
                "The payment token was not sealed for this order", order_id=order_id
            ) from error
