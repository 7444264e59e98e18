"""The details of an order: the response of GET /orders/{orderId}/details, and orders' own reading
of what the owning services answer (docs/contracts.md, "Order details").

Each part is discriminated by `status`: the part itself (a payment's CHARGED or REFUNDED, a
shipment's SCHEDULED or CANCELLED; a customer profile carries no status), `{"status": "none"}`
when its service answered that there is nothing (no profile, no payment, no shipment), and
`{"status": "unavailable"}` when its service could not answer (an error, a timeout, its
circuit breaker open).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from orders.models import Currency, CustomerId, OrderId, OrderView
from shop_shared.models import ShopModel

PaymentStatus = Literal["CHARGED", "REFUNDED"]
ShipmentStatus = Literal["SCHEDULED", "CANCELLED"]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=254)]


# ---------------------------------------------------------------- parts


class PartUnavailable(ShopModel):
    """The owning service did not answer: it failed, timed out, or its breaker is open."""

    model_config = ConfigDict(frozen=True, title="PartUnavailable")

    status: Literal["unavailable"] = "unavailable"


class PartNone(ShopModel):
    """The owning service answered that it has nothing for this order (yet)."""

    model_config = ConfigDict(frozen=True, title="PartNone")

    status: Literal["none"] = "none"


class ProfileAddress(ShopModel):
    model_config = ConfigDict(frozen=True)

    line1: Text
    line2: Text | None = None
    city: Text
    postalCode: Text
    country: CountryCode


class CustomerPart(ShopModel):
    """The customer's profile, as GET /customers/me shows it."""

    model_config = ConfigDict(frozen=True)

    customerId: CustomerId
    name: Text
    email: Text
    address: ProfileAddress


class PaymentPart(ShopModel):
    """The order's payment (paymentId is the provider's charge id)."""

    model_config = ConfigDict(frozen=True)

    paymentId: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    amountCents: Annotated[int, Field(gt=0)]
    currency: Currency
    status: PaymentStatus


class ShipmentPart(ShopModel):
    """The order's shipment: who carries it, its tracking id, the destination country."""

    model_config = ConfigDict(frozen=True)

    status: ShipmentStatus
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    trackingId: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    country: CountryCode


CustomerDetails = CustomerPart | PartNone | PartUnavailable
PaymentDetails = Annotated[PaymentPart | PartNone | PartUnavailable, Field(discriminator="status")]
ShipmentDetails = Annotated[
    ShipmentPart | PartNone | PartUnavailable, Field(discriminator="status")
]


class OrderDetails(ShopModel):
    """200 body of GET /orders/{orderId}/details."""

    order: OrderView
    customer: CustomerDetails
    payment: PaymentDetails
    shipment: ShipmentDetails


# ---------------------------------------------------------------- asking the owning services


class CustomerProfileQuery(ShopModel):
    """GetCustomerProfileFunction's input."""

    customerId: CustomerId
    correlationId: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PaymentQuery(ShopModel):
    """GetPaymentFunction's input."""

    orderId: OrderId
    correlationId: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ShipmentQuery(ShopModel):
    """GetShipmentFunction's input."""

    orderId: OrderId
    correlationId: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class _Answer(BaseModel, ABC):
    """An owning service's answer: `found` and the thing agree, or the answer is unreadable."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    found: bool

    @abstractmethod
    def _found(self) -> object | None:
        """The thing the answer carries, or None."""

    @model_validator(mode="after")
    def _found_agrees(self) -> _Answer:
        if self.found != (self._found() is not None):
            raise ValueError("`found` disagrees with what the answer carries")
        return self


class CustomerProfileAnswer(_Answer):
    customerId: CustomerId
    profile: CustomerPart | None = None

    def _found(self) -> object | None:
        return self.profile


class PaymentAnswer(_Answer):
    orderId: OrderId
    payment: PaymentPart | None = None

    def _found(self) -> object | None:
        return self.payment


class ShipmentAnswer(_Answer):
    orderId: OrderId
    shipment: ShipmentPart | None = None

    def _found(self) -> object | None:
        return self.shipment
