"""Customers models, one set per boundary, with explicit mapping between them.

- API: `RegisterCustomerRequest` in, `CustomerProfile` out.
- Domain: `Customer`, with its `Address` value object (whose shape is the same everywhere).
- Stored item: `CustomerItem` (only the repository uses it).
- Event: `CustomerRegistered` (the event's `data`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from shop_shared.models import ShopModel
from shop_shared.sealing import SealedValue
from shop_shared.text import OneLine

# A practical address check (RFC 5322's dot-atom local part, DNS labels with a dot in the
# domain), without the email-validator dependency; deliverability is SES's business.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)

# ISO 3166-1 alpha-2, officially assigned codes (249).
ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 (one line per 30 codes reads better than 249)
)


# A person's name, and nothing else a message could carry (issue 11, finding 1: a name is
# written into emails): words of letters (any script) joined by a space, hyphen, apostrophe,
# ", " or ". ", and initials like "J.R.R."; so no digits, no markup (<>&), no URL or domain
# ("://", "evil.example", "www.x"), no "@", no invisible or direction-changing characters.
# The letters are spelled out, so the pattern means the same to pydantic (Rust regex), to Python
# and to a JSON Schema (ECMA-262) reader: Latin with its accents, Greek, Cyrillic, kana, Han and
# Hangul. Precomposed only ("é" as U+00E9, as keyboards send it).
_LETTER = (
    r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0386\u0388-\u03ce"
    r"\u0400-\u0481\u048a-\u04ff\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff\uac00-\ud7a3]"
)
_WORD = rf"(?:(?:{_LETTER}\.)+|{_LETTER}+)"
PERSON_NAME_PATTERN = rf"^{_WORD}(?:(?:[ '\u2019-]|, |\. ){_WORD})*\.?$"


def _known_country(code: str) -> str:
    if code not in ISO_3166_ALPHA2:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code in upper case, like DE")
    return code


CustomerName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=PERSON_NAME_PATTERN),
    OneLine,
]
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)]
CountryCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{2}$",
        json_schema_extra={"enum": sorted(ISO_3166_ALPHA2)},
        description="ISO 3166-1 alpha-2, upper case",
    ),
    AfterValidator(_known_country),
]
AddressLine = Annotated[str, Field(min_length=1, max_length=200), OneLine]
City = Annotated[str, Field(min_length=1, max_length=100), OneLine]
PostalCode = Annotated[str, Field(min_length=1, max_length=20), OneLine]


class Address(ShopModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    line1: AddressLine
    line2: AddressLine | None = None
    city: City
    postalCode: PostalCode
    country: CountryCode


# ---------------------------------------------------------------- API


class RegisterCustomerRequest(ShopModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: CustomerName
    email: Email | None = Field(
        default=None,
        description="Optional: the profile always gets your account's verified email (the "
        "token's `email`); a different address here is refused (422 EMAIL_MISMATCH)",
    )
    address: Address


class CustomerProfile(ShopModel):
    customerId: str
    name: str
    email: str
    address: Address

    @classmethod
    def from_customer(cls, customer: Customer) -> CustomerProfile:
        return cls(
            customerId=customer.customer_id,
            name=customer.name,
            email=customer.email,
            address=customer.address,
        )


# ---------------------------------------------------------------- internal query (not on the API)


class GetCustomerProfileInput(ShopModel):
    """What GetCustomerProfileFunction is invoked with (orders' GET /orders/{id}/details)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customerId: Annotated[str, Field(min_length=1, max_length=128)]
    correlationId: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class CustomerProfileAnswer(ShopModel):
    """GetCustomerProfileFunction's answer: the profile, or `found: false` (never an error)
    when the customer has not registered one."""

    customerId: str
    found: bool
    profile: CustomerProfile | None

    @classmethod
    def of(cls, customer_id: str, customer: Customer | None) -> CustomerProfileAnswer:
        profile = CustomerProfile.from_customer(customer) if customer else None
        return cls(customerId=customer_id, found=profile is not None, profile=profile)


# ---------------------------------------------------------------- domain


class Customer(ShopModel):
    model_config = ConfigDict(frozen=True)

    customer_id: Annotated[str, Field(min_length=1)]
    name: CustomerName
    email: Email
    address: Address
    created_at: datetime


# ---------------------------------------------------------------- stored item


def customer_key(customer_id: str) -> dict[str, str]:
    return {"pk": f"CUSTOMER#{customer_id}"}


class CustomerItem(ShopModel):
    pk: str
    itemType: Literal["CUSTOMER"] = "CUSTOMER"
    customerId: str
    name: str
    email: str
    address: Address
    createdAt: datetime

    @classmethod
    def from_customer(cls, customer: Customer) -> CustomerItem:
        return cls(
            **customer_key(customer.customer_id),
            customerId=customer.customer_id,
            name=customer.name,
            email=customer.email,
            address=customer.address,
            createdAt=customer.created_at,
        )

    def to_customer(self) -> Customer:
        return Customer(
            customer_id=self.customerId,
            name=self.name,
            email=self.email,
            address=self.address,
            created_at=self.createdAt,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- events (data)

EVENT_SOURCE = "shop.customers"
PRODUCER = "customers"


class CustomerRegistered(ShopModel):
    """Carries the registered email and address sealed with the customer-data key
    (shop_shared.sealing) under `sealing_context(customerId, field)`: notifications opens the
    email, shipping the address (to ship orders placed without one); nobody else can."""

    customerId: str
    name: str
    emailCiphertext: SealedValue
    addressCiphertext: SealedValue


def sealing_context(customer_id: str, field: Literal["email", "address"]) -> dict[str, str]:
    """The encryption context that binds a sealed field of CustomerRegistered to its customer."""
    return {"customerId": customer_id, "field": field}
