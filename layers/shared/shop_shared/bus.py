"""What a consumer's queue receives: an EventBridge event, as a rule delivers it to SQS.

Only the fields consumers rely on: moto's delivery (hence localcloud's) leaves out some of
AWS's, such as `account`. `detail` is the envelope {metadata, data}; each consumer parses
`data` with its own model (`shop_shared.events.parse_detail`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import ConfigDict, Field, Json

from shop_shared.models import ShopModel


class BusEvent(ShopModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", min_length=1)
    detail: dict[str, Any]

    @property
    def correlation_id(self) -> str | None:
        metadata = self.detail.get("metadata")
        return str(metadata.get("correlationId")) if isinstance(metadata, dict) else None


class BusEventRecord(SqsRecordModel):
    """One SQS record whose body is a bus event."""

    body: Json[BusEvent]
