"""A simulator of the external payment provider (docs/contracts.md), in memory, thread-safe.

Tokens: `tok_declined` -> 402 card_declined; `tok_unavailable` -> 503; `tok_refund_fails`
charges succeed but every refund of them answers 500 (a refund the provider refuses for good,
to exercise a failing compensation); `tok_lost_charge_answer` charges, then the answer is lost;
`tok_lost_refund_answer` charges normally, and each refund of it is made, then its answer lost;
any other `tok_...` succeeds.

A lost answer is what a client cannot tell from a failure: the charge or refund is committed
(and remembered under its Idempotency-Key), then the connection is dropped without a word
(`lost_answer_mode = "drop"`) or held silent for `stall_seconds`, past the client's timeout,
and closed (`"stall"`). The first `answers_lost_per_request` answers to each request (each
Idempotency-Key) are lost; a retry after that gets the first answer, as from a real provider.
`Authorization: Bearer <api key>` is required (401 otherwise). An `Idempotency-Key` returns
the first answer again for the same endpoint, as the real provider does; answers that did not
execute (400, 401, 500, 503) are not remembered, so a retry after them is a new attempt.

    with PaymentProviderSimulator(api_key="sk_test").serve() as provider:
        provider.base_url  # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal, TypeGuard
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from localcloud.faults.rules import FaultRegistry, FaultRule

DECLINED_TOKEN = "tok_declined"
UNAVAILABLE_TOKEN = "tok_unavailable"
REFUND_FAILS_TOKEN = "tok_refund_fails"
LOST_CHARGE_ANSWER_TOKEN = "tok_lost_charge_answer"
LOST_REFUND_ANSWER_TOKEN = "tok_lost_refund_answer"
LostAnswerMode = Literal["drop", "stall"]

_TOKEN = re.compile(r"^tok_[A-Za-z0-9_]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_REFUNDS_OF_CHARGE = re.compile(r"^/v1/charges/([A-Za-z0-9_]{1,64})/refunds$")
_REMEMBERED = frozenset({HTTPStatus.CREATED, HTTPStatus.PAYMENT_REQUIRED, HTTPStatus.NOT_FOUND})

Answer = tuple[int, dict[str, Any]]


class AnswerLost(Exception):
    """The request was carried out, and its answer is to be lost on the way back."""

    def __init__(self, path: str, stall_seconds: float | None = None) -> None:
        super().__init__(path)
        self.stall_seconds = stall_seconds  # None: as the simulator's lost_answer_mode says


def _error(status: HTTPStatus, code: str, message: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}


def _positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class PaymentProviderSimulator:
    def __init__(self, api_key: str) -> None:
        self._api_key = api_key
        self._lock = threading.Lock()
        self._charges: dict[str, dict[str, Any]] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        self._refunded: dict[str, int] = {}  # chargeId -> amount refunded so far
        self._unrefundable: set[str] = set()  # chargeIds paid with REFUND_FAILS_TOKEN
        self._refund_answers_lost: set[str] = set()  # chargeIds paid with LOST_REFUND_ANSWER
        self._lost: dict[tuple[str, str], int] = {}  # (path, key) -> answers lost so far
        self._lost_total = 0
        self._answers: dict[tuple[str, str], Answer] = {}  # (path, Idempotency-Key) -> answer
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._host = "127.0.0.1"
        self.latency_seconds = 0.0  # added before every answer, to simulate a slow provider
        self.lost_answer_mode: LostAnswerMode = "drop"  # how an answer is lost (see above)
        self.stall_seconds = 10.0  # how long a stalled answer holds the connection
        self.answers_lost_per_request = 1  # lost answers per Idempotency-Key before one arrives
        self.faults: FaultRegistry | None = None  # localcloud's fault rules for this provider

    # ------------------------------------------------------------ lifecycle

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> PaymentProviderSimulator:
        """Start answering on host:port (0 = a free port) in a background thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already serving")
        server = _Server((host, port), _handler_for(self))
        self._host = host
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so close() returns promptly
            name="payment-provider",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not serving")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> PaymentProviderSimulator:
        return self if self._server is not None else self.serve()

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ for tests and operators

    def charges(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(charge) for charge in self._charges.values()]

    def refunds(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(refund) for refund in self._refunds.values()]

    def answers_lost(self) -> int:
        """How many answers were lost so far (committed, never delivered)."""
        with self._lock:
            return self._lost_total

    # ------------------------------------------------------------ the API

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """One request -> (status, JSON body). `headers` keys are lower case."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        url = urlsplit(target)
        fault = self._draw_fault(method, url.path)
        if fault is not None and fault.kind_action == "error":
            error = fault.error
            status = error.status_code if error else HTTPStatus.SERVICE_UNAVAILABLE
            return status, {
                "error": {
                    "code": error.code if error else "unavailable",
                    "message": "Injected by localcloud's fault API",
                }
            }
        authorization = headers.get("authorization", "")
        if not hmac.compare_digest(authorization.encode(), f"Bearer {self._api_key}".encode()):
            return _error(HTTPStatus.UNAUTHORIZED, "unauthorized", "Invalid API key")
        if url.path == "/v1/charges" and method == "GET":
            reference = parse_qs(url.query).get("reference", [None])[0]
            with self._lock:
                items = [
                    dict(c)
                    for c in self._charges.values()
                    if reference is None or c["reference"] == reference
                ]
            return HTTPStatus.OK, {"items": items}
        refunds_of = _REFUNDS_OF_CHARGE.match(url.path)
        if refunds_of and method == "GET":
            charge_id = refunds_of.group(1)
            with self._lock:
                if charge_id not in self._charges:
                    return _error(HTTPStatus.NOT_FOUND, "charge_not_found", "No such charge")
                items = [dict(r) for r in self._refunds.values() if r["chargeId"] == charge_id]
            return HTTPStatus.OK, {"items": items}
        operations = {"/v1/charges": self._charge, "/v1/refunds": self._refund}
        operation = operations.get(url.path)
        if operation is None:
            return _error(HTTPStatus.NOT_FOUND, "not_found", "No such route")
        if method != "POST":
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "Use POST")
        lose = fault if fault is not None and fault.kind_action == "lost-response" else None
        return self._post(url.path, operation, body, headers.get("idempotency-key"), lose)

    def _draw_fault(self, method: str, path: str) -> FaultRule | None:
        """The fault rule (service `payment-provider`) that fires for this request, if any:
        operations `Charge` and `Refund` (POST), `ListCharges` and `ListRefunds` (GET). Its
        latency is applied here; an error or a lost answer is the caller's to apply."""
        if self.faults is None:
            return None
        if method == "POST":
            operation = {"/v1/charges": "Charge", "/v1/refunds": "Refund"}.get(path)
        else:
            operation = "ListCharges" if path == "/v1/charges" else "ListRefunds"
        actions = (
            {"error", "latency", "lost-response"} if method == "POST" else {"error", "latency"}
        )
        fault = self.faults.draw("payment-provider", operation, actions=actions)
        if fault is not None and fault.latency and fault.kind_action != "lost-response":
            time.sleep(fault.latency / 1000)
        return fault

    def _post(
        self,
        path: str,
        operation: Callable[[dict[str, Any]], Answer],
        body: bytes,
        key: str | None,
        lose: FaultRule | None = None,
    ) -> Answer:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _error(HTTPStatus.BAD_REQUEST, "invalid_request", "Body must be a JSON object")
        with self._lock:  # one at a time: a duplicate waits and then gets the first answer
            if key and (path, key) in self._answers:
                answer = self._answers[(path, key)]
            else:
                answer = operation(payload)
                if key and answer[0] in _REMEMBERED:
                    self._answers[(path, key)] = answer
            if self._loses(path, key, payload, answer):
                raise AnswerLost(path)
            if lose is not None:  # a fault rule: this answer, whatever it is, never arrives
                self._lost_total += 1
                raise AnswerLost(path, (lose.latency or 0) / 1000)
            return answer

    def _loses(self, path: str, key: str | None, payload: dict[str, Any], answer: Answer) -> bool:
        """Whether this answer (of a committed request) is to be lost; counts it if so."""
        status, body = answer
        if status != HTTPStatus.CREATED:
            return False
        if path == "/v1/charges":
            losing = payload.get("token") == LOST_CHARGE_ANSWER_TOKEN
            request = key or str(body.get("chargeId"))
        else:
            losing = body.get("chargeId") in self._refund_answers_lost
            request = key or str(body.get("refundId"))
        lost_so_far = self._lost.get((path, request), 0)
        if not losing or lost_so_far >= self.answers_lost_per_request:
            return False
        self._lost[(path, request)] = lost_so_far + 1
        self._lost_total += 1
        return True

    def _charge(self, payload: dict[str, Any]) -> Answer:
        token, amount = payload.get("token"), payload.get("amountCents")
        currency, reference = payload.get("currency"), payload.get("reference")
        if (
            not isinstance(token, str)
            or not _TOKEN.match(token)
            or not _positive_int(amount)
            or not isinstance(currency, str)
            or not _CURRENCY.match(currency)
            or not isinstance(reference, str)
            or not reference
        ):
            return _error(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                "Expected amountCents > 0, currency (ISO 4217), token (tok_...), reference",
            )
        if token == UNAVAILABLE_TOKEN:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "The provider is unavailable"
            )
        if token == DECLINED_TOKEN:
            return _error(HTTPStatus.PAYMENT_REQUIRED, "card_declined", "Your card was declined")
        charge_id = f"ch_{uuid.uuid4().hex[:24]}"
        charge = {
            "chargeId": charge_id,
            "status": "succeeded",
            "amountCents": amount,
            "currency": currency,
            "reference": reference,
        }
        self._charges[charge_id] = charge
        if token == REFUND_FAILS_TOKEN:
            self._unrefundable.add(charge_id)
        if token == LOST_REFUND_ANSWER_TOKEN:
            self._refund_answers_lost.add(charge_id)
        return HTTPStatus.CREATED, dict(charge)

    def _refund(self, payload: dict[str, Any]) -> Answer:
        charge_id, amount = payload.get("chargeId"), payload.get("amountCents")
        if not isinstance(charge_id, str) or not _positive_int(amount):
            return _error(
                HTTPStatus.BAD_REQUEST, "invalid_request", "Expected chargeId and amountCents > 0"
            )
        charge = self._charges.get(charge_id)
        if charge is None:
            return _error(HTTPStatus.NOT_FOUND, "charge_not_found", "No such charge")
        if charge_id in self._unrefundable:
            return _error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "refund_failed", "The refund could not be made"
            )
        refunded = self._refunded.get(charge_id, 0)
        if refunded + amount > charge["amountCents"]:
            return _error(
                HTTPStatus.BAD_REQUEST, "amount_too_large", "More than the charge has left"
            )
        self._refunded[charge_id] = refunded + amount
        refund_id = f"re_{uuid.uuid4().hex[:24]}"
        refund = {
            "refundId": refund_id,
            "chargeId": charge_id,
            "status": "succeeded",
            "amountCents": amount,
        }
        self._refunds[refund_id] = refund
        return HTTPStatus.CREATED, dict(refund)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of saga retries must not wait for SYN retransmits

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up (its timeout): not a failure of the simulator
        super().handle_error(request, client_address)


def _handler_for(simulator: PaymentProviderSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "PaymentProviderSimulator/1"
        # The head and the body are two writes on a kept-alive connection: with Nagle's
        # algorithm the body waited for the client's delayed ACK, 40 ms per charge.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                status, payload = simulator.handle(self.command, self.path, headers, body)
            except AnswerLost as lost:
                if lost.stall_seconds is not None:
                    time.sleep(lost.stall_seconds)  # a fault rule's stall, then the drop
                elif simulator.lost_answer_mode == "stall":
                    time.sleep(simulator.stall_seconds)  # past the client's timeout
                self.close_connection = True  # then the connection goes, without an answer
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the state
            return

    return Handler
