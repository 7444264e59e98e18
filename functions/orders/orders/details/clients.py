"""The owning services' query functions, invoked synchronously: the only boto3 user of the
order details besides the event store and the breakers' state.

Each call is a Lambda Invoke (RequestResponse) with botocore's connect and read timeouts and no
retries (a retry is the caller's decision, and the breaker's), and its answer is read with
orders' own models of it. A function error or an answer that can't be read raises
OwningServiceFailed, which the service's breaker counts like a timeout.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from pydantic import BaseModel, ValidationError

from orders.details.errors import (
    CustomersCircuitOpen,
    OwningServiceFailed,
    PaymentsCircuitOpen,
    ShippingCircuitOpen,
)
from orders.details.models import (
    CustomerProfileAnswer,
    CustomerProfileQuery,
    PaymentAnswer,
    PaymentQuery,
    ShipmentAnswer,
    ShipmentQuery,
)
from orders.details.ports import OwningServices, PartBreakers
from shop_shared.circuit_breaker import CircuitBreaker, CircuitOpen, DynamoDBBreakerStore
from shop_shared.dynamodb import dynamodb
from shop_shared.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from orders.details.settings import OrderDetailsSettings

AnswerT = TypeVar("AnswerT", bound=BaseModel)

# The breakers' state: `BREAKER#<name>` items in OrdersTable, whose key also has `sk`.
BREAKER_SORT_KEY = {"sk": "BREAKER"}
CUSTOMERS_BREAKER = "customers"
PAYMENTS_BREAKER = "payments"
SHIPPING_BREAKER = "shipping"


class LambdaOwningServices(OwningServices):
    """Each service's query function, invoked by name (the template passes them with !Ref).
    The client is shared by the parts' threads: botocore clients are thread-safe."""

    def __init__(
        self,
        client: LambdaClient,
        *,
        customer_profile_function: str,
        payment_function: str,
        shipment_function: str,
    ) -> None:
        self._client = client
        self._customer_profile_function = customer_profile_function
        self._payment_function = payment_function
        self._shipment_function = shipment_function

    def customer_profile(self, query: CustomerProfileQuery) -> CustomerProfileAnswer:
        return self._ask(self._customer_profile_function, query, CustomerProfileAnswer)

    def payment(self, query: PaymentQuery) -> PaymentAnswer:
        return self._ask(self._payment_function, query, PaymentAnswer)

    def shipment(self, query: ShipmentQuery) -> ShipmentAnswer:
        return self._ask(self._shipment_function, query, ShipmentAnswer)

    def _ask(self, function: str, query: BaseModel, answer: type[AnswerT]) -> AnswerT:
        response = self._client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=query.model_dump_json().encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            error_type = _error_type(payload)
            raise OwningServiceFailed(
                f"{function} failed: {error_type}", function=function, error_type=error_type
            )
        try:
            return answer.model_validate_json(payload)
        except ValidationError as error:
            logger.warning(
                "unreadable answer",
                extra={"function": function, "problems": error.error_count()},
            )
            raise OwningServiceFailed(
                f"{function} answered something orders can't read", function=function
            ) from error


def _error_type(payload: bytes) -> str:
    """The errorType of a function error's payload (never its message: it may carry data)."""
    try:
        body = json.loads(payload or b"null")
    except ValueError:
        return "Unknown"
    error_type = body.get("errorType") if isinstance(body, dict) else None
    return str(error_type)[:128] if error_type else "Unknown"


def lambda_client(settings: OrderDetailsSettings) -> LambdaClient:
    """A Lambda client whose calls give up after the settings' timeouts, never retried."""
    config = Config(
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("lambda", config=config)


def owning_services(settings: OrderDetailsSettings) -> LambdaOwningServices:
    return LambdaOwningServices(
        lambda_client(settings),
        customer_profile_function=settings.customer_profile_function_name,
        payment_function=settings.payment_function_name,
        shipment_function=settings.shipment_function_name,
    )


def part_breakers(settings: OrderDetailsSettings) -> PartBreakers:
    """One breaker per owning service, their state in OrdersTable (`BREAKER#<service>`)."""
    config = settings.breaker_config()

    def breaker(name: str, open_error: type[CircuitOpen]) -> CircuitBreaker:
        # The process's one DynamoDB client (shop_shared.dynamodb), safe to share with the
        # threads the parts run on, as a boto3 resource would not be.
        store = DynamoDBBreakerStore(
            settings.orders_table_name,
            dynamodb().Table(settings.orders_table_name),
            sort_key=BREAKER_SORT_KEY,
        )
        return CircuitBreaker(name, store=store, config=config, open_error=open_error)

    return PartBreakers(
        customers=breaker(CUSTOMERS_BREAKER, CustomersCircuitOpen),
        payments=breaker(PAYMENTS_BREAKER, PaymentsCircuitOpen),
        shipping=breaker(SHIPPING_BREAKER, ShippingCircuitOpen),
    )
