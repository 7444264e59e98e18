"""Compose an order's details: the order from orders' own event store, then its customer, payment
and shipment from their owning services, in parallel, each behind its service's breaker.

The order comes first: a missing order, or another customer's, is 404 (OrderNotFound) before
any other service is asked, so nobody's payment or shipment is fetched for a caller who may not
see the order. Then each part is asked on the executor; a part that fails in any way (an error,
its call's timeout, its breaker open, the overall deadline) is `{"status": "unavailable"}` and
the other parts stand: the answer is still complete and 200.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from orders.details.errors import OwningServiceFailed
from orders.details.models import (
    CustomerPart,
    CustomerProfileQuery,
    OrderDetails,
    PartNone,
    PartUnavailable,
    PaymentPart,
    PaymentQuery,
    ShipmentPart,
    ShipmentQuery,
)
from orders.logic import get_order
from shop_shared.observability import logger, metrics

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from orders.details.ports import OwningServices, PartBreakers
    from orders.models import OrderView
    from orders.repository import OrderEventStore

PartT = TypeVar("PartT")


def get_order_details(
    order_id: str,
    *,
    customer_id: str,
    correlation_id: str,
    store: OrderEventStore,
    services: OwningServices,
    breakers: PartBreakers,
    executor: Executor,
    deadline_seconds: float,
) -> OrderDetails:
    """The caller's order with its parts; OrderNotFound (404) for a missing or foreign order."""
    order = get_order(order_id, customer_id=customer_id, as_of=None, store=store)
    customer = executor.submit(
        breakers.customers.call, lambda: _customer(services, order, correlation_id)
    )
    payment = executor.submit(
        breakers.payments.call, lambda: _payment(services, order, correlation_id)
    )
    shipment = executor.submit(
        breakers.shipping.call, lambda: _shipment(services, order, correlation_id)
    )
    deadline = time.monotonic() + deadline_seconds
    details = OrderDetails(
        order=order,
        customer=_settle("customer", customer, deadline),
        payment=_settle("payment", payment, deadline),
        shipment=_settle("shipment", shipment, deadline),
    )
    logger.info(
        "order details composed",
        extra={
            "order_id": order_id,
            "unavailable": [
                name
                for name in ("customer", "payment", "shipment")
                if isinstance(getattr(details, name), PartUnavailable)
            ],
        },
    )
    return details


# ---------------------------------------------------------------- one part each


def _customer(
    services: OwningServices, order: OrderView, correlation_id: str
) -> CustomerPart | PartNone:
    answer = services.customer_profile(
        CustomerProfileQuery(customerId=order.customerId, correlationId=correlation_id)
    )
    _require_same("customerId", answer.customerId, order.customerId)
    return answer.profile or PartNone()


def _payment(
    services: OwningServices, order: OrderView, correlation_id: str
) -> PaymentPart | PartNone:
    answer = services.payment(PaymentQuery(orderId=order.orderId, correlationId=correlation_id))
    _require_same("orderId", answer.orderId, order.orderId)
    return answer.payment or PartNone()


def _shipment(
    services: OwningServices, order: OrderView, correlation_id: str
) -> ShipmentPart | PartNone:
    answer = services.shipment(ShipmentQuery(orderId=order.orderId, correlationId=correlation_id))
    _require_same("orderId", answer.orderId, order.orderId)
    return answer.shipment or PartNone()


def _require_same(field: str, answered: str, asked: str) -> None:
    if answered != asked:
        raise OwningServiceFailed(f"answered for another {field}", asked=asked, answered=answered)


def _settle(part: str, future: Future[PartT], deadline: float) -> PartT | PartUnavailable:
    """The part's answer, or unavailable: whatever went wrong stays inside this part."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        future.cancel()  # not started yet (the executor is busy): never start it
        logger.warning("order details part timed out", extra={"part": part})
    except Exception as error:  # one part failing must not fail the answer
        logger.warning(
            "order details part unavailable",
            extra={
                "part": part,
                "error": type(error).__name__,
                "code": getattr(error, "code", None),
            },
        )
    metrics.add_metric(
        name=f"OrderDetails{part.title()}Unavailable", unit=MetricUnit.Count, value=1
    )
    return PartUnavailable()
