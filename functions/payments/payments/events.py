"""The events the payments service publishes (docs/contracts.md, "The event catalog").

`EVENT_MODELS` (detail-type -> model of the event's `data`) is what the schema generator and
the contract tests read; `logic` builds every event it writes from these same models (each
carries its detail-type as `detail_type`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from payments.models import PAYMENTS_SOURCE, PaymentChargedData, PaymentRefundedData

if TYPE_CHECKING:
    from pydantic import BaseModel

SOURCE = PAYMENTS_SOURCE

EVENT_MODELS: dict[str, type[BaseModel]] = {
    model.detail_type: model for model in (PaymentChargedData, PaymentRefundedData)
}
