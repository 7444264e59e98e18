"""The external payment provider's HTTP API (contracts.md), over stdlib urllib with a timeout.

Every call carries an Idempotency-Key derived from the order (`charge-<orderId>`,
`refund-<orderId>`), so a retried saga step gets the provider's first answer again and a card
is never charged twice. The API key is read from Secrets Manager (cached for five minutes).

Both handlers call it through the `payment-provider` circuit breaker (`payment_provider()`),
whose state is the `BREAKER#payment-provider` item of PaymentsTable: when the provider keeps
failing, calls fail fast with PaymentProviderCircuitOpen instead of waiting on its timeout.

The API key is only ever sent to the configured base URL: redirects (301, 302, 303, 307, 308,
to any host, this one included) are never followed but answered with PaymentProviderError, and
the base URL must be https. Plain http is allowed only when the function runs on localcloud,
which says so explicitly (`SHOP_LOCALCLOUD=true` in the function's environment, see
PaymentsSettings); it is never inferred from the URL.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.parameters import get_secret
from pydantic import BaseModel, ValidationError

from payments.errors import (
    PaymentDeclined,
    PaymentProviderCircuitOpen,
    PaymentProviderError,
    PaymentProviderUnavailable,
)
from payments.models import (
    ChargeList,
    ChargeRequest,
    ProviderCharge,
    ProviderRefund,
    RefundRequest,
)
from shop_shared.circuit_breaker import CircuitBreaker, DynamoDBBreakerStore
from shop_shared.dynamodb import dynamodb
from shop_shared.observability import logger

if TYPE_CHECKING:
    from payments.settings import PaymentsSettings

ModelT = TypeVar("ModelT", bound=BaseModel)

DEFAULT_TIMEOUT_SECONDS = 3.0
SECRET_MAX_AGE_SECONDS = 300
PAYMENT_PROVIDER_BREAKER = "payment-provider"


class PaymentProvider(ABC):
    @abstractmethod
    def charge(
        self,
        request: ChargeRequest,
        *,
        idempotency_key: str,
        before_send: Callable[[], None] | None = None,
    ) -> ProviderCharge:
        """Charge the card; PaymentDeclined or PaymentProviderUnavailable otherwise.

        `before_send` runs right before the request leaves (not when the breaker refuses it):
        from then on the card may be charged, whatever this call ends with."""

    @abstractmethod
    def refund(self, request: RefundRequest, *, idempotency_key: str) -> ProviderRefund:
        """Refund (part of) a charge; PaymentProviderUnavailable when the provider is down."""

    @abstractmethod
    def find_charges(self, reference: str) -> list[ProviderCharge]:
        """The provider's succeeded charges with this reference (the order id), oldest first."""


def api_key_from_secret(secret_arn: str) -> Callable[[], str]:
    """The provider's API key from Secrets Manager, fetched on first use and cached."""

    def api_key() -> str:
        return get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)

    return api_key


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer stays an answer (HTTPError with its code): the request, and the API key in
    its Authorization header, never goes to the Location."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


class HttpPaymentProvider(PaymentProvider):
    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        allow_plain_http: bool = False,
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme.lower()
        if scheme != "https" and not (allow_plain_http and scheme == "http"):
            raise ValueError(
                f"The payment provider's base URL must be https (plain http only on localcloud),"
                f" not {scheme or 'no'} scheme"
            )
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout_seconds
        # Only http(s) handlers, and no redirects: the key goes nowhere but to base_url.
        self._opener = urllib.request.build_opener(_RefuseRedirects())

    def charge(
        self,
        request: ChargeRequest,
        *,
        idempotency_key: str,
        before_send: Callable[[], None] | None = None,
    ) -> ProviderCharge:
        if before_send is not None:
            before_send()
        status, body = self._post("/v1/charges", request, idempotency_key)
        if status == 402:
            raise PaymentDeclined(
                _error_message(body, "The payment was declined"), order_id=request.reference
            )
        return self._parse(ProviderCharge, status, body)

    def refund(self, request: RefundRequest, *, idempotency_key: str) -> ProviderRefund:
        status, body = self._post("/v1/refunds", request, idempotency_key)
        return self._parse(ProviderRefund, status, body)

    def find_charges(self, reference: str) -> list[ProviderCharge]:
        query = urllib.parse.urlencode({"reference": reference})
        status, body = self._send(
            urllib.request.Request(
                f"{self._base_url}/v1/charges?{query}",
                method="GET",
                headers=self._headers(),
            ),
            "/v1/charges",
        )
        listing = self._parse(ChargeList, status, body)
        return [charge for charge in listing.items if charge.reference == reference]

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key()}", "Accept": "application/json"}

    def _post(self, path: str, payload: BaseModel, idempotency_key: str) -> tuple[int, Any]:
        # The base URL is validated as http(s) by the settings: no file:// or custom schemes.
        request = urllib.request.Request(
            f"{self._base_url}{path}",
            data=payload.model_dump_json().encode(),
            method="POST",
            headers={
                **self._headers(),
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
            },
        )
        return self._send(request, path)

    def _send(self, request: urllib.request.Request, path: str) -> tuple[int, Any]:
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:  # a non-2xx answer: still an answer
            with error:
                if 300 <= error.code < 400:
                    logger.error(
                        "payment provider answered with a redirect, not followed",
                        extra={"path": path, "status": error.code},
                    )
                    raise PaymentProviderError(
                        "The payment provider answered with a redirect, which is not followed",
                        status=error.code,
                    ) from None
                return error.code, _json(error.read())
        except (OSError, http.client.HTTPException) as error:  # timeout, refused, reset, ...
            logger.warning(
                "payment provider unreachable", extra={"path": path, "error": str(error)}
            )
            raise PaymentProviderUnavailable(
                "The payment provider could not be reached", path=path
            ) from error

    @staticmethod
    def _parse(model: type[ModelT], status: int, body: Any) -> ModelT:
        if status == 429 or status >= 500:
            raise PaymentProviderUnavailable(
                _error_message(body, "The payment provider is unavailable"), status=status
            )
        if status not in (200, 201):
            logger.error("payment provider refused the request", extra={"status": status})
            raise PaymentProviderError(
                _error_message(body, "The payment provider refused the request"), status=status
            )
        try:
            return model.model_validate(body)
        except ValidationError as error:
            raise PaymentProviderError(
                "The payment provider answered in an unexpected shape", status=status
            ) from error


class BreakerGuardedProvider(PaymentProvider):
    """A provider called through a circuit breaker: while it is open, PaymentProviderCircuitOpen
    is raised and the provider is not called. Only PaymentProviderUnavailable (5xx, 429, timeouts,
    connection errors) counts as a failure; a declined card is the provider working."""

    def __init__(self, provider: PaymentProvider, breaker: CircuitBreaker) -> None:
        self._provider = provider
        self._breaker = breaker

    def charge(
        self,
        request: ChargeRequest,
        *,
        idempotency_key: str,
        before_send: Callable[[], None] | None = None,
    ) -> ProviderCharge:
        # before_send runs inside the guarded call (only when the breaker lets the request go),
        # but its own failure (PaymentsTable's, not the provider's) is raised outside it, so it
        # never counts against the provider. (Were that call the half-open probe, the breaker
        # closes without having heard from the provider; the next failures reopen it.)
        unsent: list[Exception] = []

        def send() -> ProviderCharge | None:
            if before_send is not None:
                try:
                    before_send()
                except Exception as error:  # re-raised below, as it was
                    unsent.append(error)
                    return None
            return self._provider.charge(request, idempotency_key=idempotency_key)

        charge = self._breaker.call(send)
        if unsent:
            raise unsent[0]
        assert charge is not None  # sent and answered
        return charge

    def refund(self, request: RefundRequest, *, idempotency_key: str) -> ProviderRefund:
        return self._breaker.call(
            lambda: self._provider.refund(request, idempotency_key=idempotency_key)
        )

    def find_charges(self, reference: str) -> list[ProviderCharge]:
        return self._breaker.call(lambda: self._provider.find_charges(reference))


def payment_provider(settings: PaymentsSettings) -> PaymentProvider:
    """The HTTP provider behind the `payment-provider` breaker kept in PaymentsTable."""
    breaker = CircuitBreaker(
        PAYMENT_PROVIDER_BREAKER,
        store=DynamoDBBreakerStore(
            settings.payments_table_name, dynamodb().Table(settings.payments_table_name)
        ),
        config=settings.breaker_config(),
        open_error=PaymentProviderCircuitOpen,
    )
    http_provider = HttpPaymentProvider(
        settings.payment_provider_base_url,
        api_key_from_secret(settings.payment_provider_api_key_secret_arn),
        allow_plain_http=settings.localcloud,
    )
    return BreakerGuardedProvider(http_provider, breaker)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _error_message(body: Any, default: str) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else default
