"""Consumers are idempotent on the event's id (DESIGN section 5): Powertools Idempotency
keyed on `detail.metadata.eventId`, its records in the consumer's own table, kept a day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shop_shared.dynamodb import low_level_client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )

EVENT_ID_PATH = "detail.metadata.eventId"
EVENT_IDEMPOTENCY_SECONDS = 24 * 3600
# How Powertools hashes the key and the payload it validates (its default is MD5).
IDEMPOTENCY_HASH_FUNCTION = "sha256"


@dataclass(frozen=True)
class EventIdempotency:
    config: IdempotencyConfig
    persistence: DynamoDBPersistenceLayer


def event_idempotency(table_name: str) -> EventIdempotency:
    """Idempotency on a bus event's id, with records (`pk`, `expiresAt`) in `table_name`.
    Powertools' idempotency utility is imported here, by the consumers that call this at init,
    not by whoever only reads IDEMPOTENCY_HASH_FUNCTION (PlaceOrder, until a keyed request)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )

    return EventIdempotency(
        config=IdempotencyConfig(
            event_key_jmespath=EVENT_ID_PATH,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EVENT_IDEMPOTENCY_SECONDS,
            hash_function=IDEMPOTENCY_HASH_FUNCTION,
        ),
        persistence=DynamoDBPersistenceLayer(
            table_name=table_name,
            key_attr="pk",
            expiry_attr="expiresAt",
            boto3_client=low_level_client(),
        ),
    )
