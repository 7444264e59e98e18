"""POST /orders with an Idempotency-Key: Powertools Idempotency on OrdersIdempotencyTable.

The key is the caller plus their Idempotency-Key (two customers may pick the same key); the
request body is the payload that must match on a retry. A retry within the expiry returns the
first answer (the same order id) and writes nothing.

A request without the header never touches the idempotency layer, so Powertools' idempotency
utility (about 25 ms of imports) is loaded on the first keyed request, not at init: a cold
start that serves an unkeyed order does not pay for it, and a keyed one pays it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from orders.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from orders.models import OrderAccepted, PlaceOrder
from shop_shared.dynamodb import low_level_client
from shop_shared.idempotency import IDEMPOTENCY_HASH_FUNCTION

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60


class IdempotentOrderPlacement:
    """Places an order; a command with an idempotency key is placed at most once."""

    def __init__(self, place: Callable[[PlaceOrder], OrderAccepted], table_name: str) -> None:
        self._place = place
        self._table_name = table_name
        self._context: LambdaContext | None = None
        self._keyed: tuple[IdempotencyConfig, Callable[..., OrderAccepted]] | None = None

    def register_lambda_context(self, context: LambdaContext) -> None:
        """So an invocation that times out does not hold its key IN_PROGRESS for an hour."""
        self._context = context
        if self._keyed is not None:
            self._keyed[0].register_lambda_context(context)

    def __call__(self, command: PlaceOrder) -> OrderAccepted:
        if command.idempotencyKey is None:
            return self._place(command)
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        try:
            accepted: OrderAccepted = self._place_once()(command=command)
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise IdempotencyKeyInUse(
                "A request with this Idempotency-Key is still being processed; retry shortly"
            ) from error
        return accepted

    def _place_once(self) -> Callable[..., OrderAccepted]:
        """The idempotent placement, made (and its imports loaded) on the first keyed call."""
        if self._keyed is None:
            from aws_lambda_powertools.utilities.idempotency import (
                DynamoDBPersistenceLayer,
                IdempotencyConfig,
                idempotent_function,
            )
            from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
                PydanticSerializer,
            )

            config = IdempotencyConfig(
                event_key_jmespath="[customerId, idempotencyKey]",
                payload_validation_jmespath="request",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS,
                hash_function=IDEMPOTENCY_HASH_FUNCTION,
            )
            if self._context is not None:
                config.register_lambda_context(self._context)
            place_once = idempotent_function(
                self._place_keyed,
                data_keyword_argument="command",
                persistence_store=DynamoDBPersistenceLayer(
                    table_name=self._table_name, boto3_client=low_level_client()
                ),
                config=config,
                output_serializer=PydanticSerializer(OrderAccepted),
                key_prefix="place_order",
            )
            self._keyed = (config, place_once)
        return self._keyed[1]

    def _place_keyed(self, command: PlaceOrder) -> OrderAccepted:
        return self._place(command)
