"""Fault rules: what to break, where, and how often, in the spirit of LocalStack's chaos API.

A rule names a service (an AWS service as its endpoint prefix: `dynamodb`, `sqs`, `events`,
`stepfunctions`, `lambda`, `dynamodbstreams`, ..., or `payment-provider`), optionally an
operation (the AWS API operation, `TransactWriteItems`; for the provider `Charge`/`Refund`) and
a function (Lambda only), a probability, and what happens:

- `error` (the default when `error` is given): the call is answered with that AWS error
  (not for `lambda`: an invocation Lambda refuses is a `throttle`);
- `latency`: the call is delayed by `latency` milliseconds, then goes through;
- `throttle` (lambda): the invoke is refused as Lambda refuses it past its concurrency;
- `kill-before` / `kill-after` (lambda): the worker is killed before its handler runs, or after
  the handler's side effects but before its response is returned;
- `timeout` (lambda): the handler runs, then the invocation ends `Sandbox.Timedout`;
- `duplicate` (sqs, dynamodbstreams, events): a delivery (or a PutEvents) happens twice;
- `lost-response` (payment-provider): the provider commits the charge or refund, then the
  connection stalls past the client's timeout and drops.

`limit` caps how many times a rule fires (a test that wants exactly one fault). Every rule that
fires is counted by kind (`<service>.<action>`) and by rule, readable with the rules.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Action = Literal[
    "error",
    "latency",
    "throttle",
    "kill-before",
    "kill-after",
    "timeout",
    "duplicate",
    "lost-response",
]

_ACTIONS_BY_SERVICE: dict[str, set[str]] = {
    "lambda": {"latency", "throttle", "kill-before", "kill-after", "timeout"},
    "sqs": {"error", "latency", "duplicate"},
    "dynamodbstreams": {"error", "latency", "duplicate"},
    "events": {"error", "latency", "duplicate"},
    "payment-provider": {"error", "latency", "lost-response"},
}
_AWS_ONLY = {"error", "latency"}


class FaultError(BaseModel):
    """The error a faulty call answers with (AWS's shape: HTTP status and error code)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status_code: Annotated[int, Field(ge=400, le=599, alias="statusCode")] = 400
    code: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.]+$")]
    message: Annotated[str, Field(max_length=1024)] = "Injected by localcloud's fault API"


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    service: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
    operation: Annotated[str | None, Field(max_length=128, pattern=r"^[A-Za-z0-9]+$")] = None
    function: Annotated[str | None, Field(max_length=140, pattern=r"^[A-Za-z0-9_-]+$")] = None
    action: Action | None = None
    probability: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    error: FaultError | None = None
    latency: Annotated[int | None, Field(ge=0, le=300_000, description="milliseconds")] = None
    limit: Annotated[int | None, Field(ge=1)] = None

    @model_validator(mode="after")
    def _consistent(self) -> FaultRule:
        action = self.kind_action
        allowed = _ACTIONS_BY_SERVICE.get(self.service, _AWS_ONLY)
        if action not in allowed:
            raise ValueError(
                f"action {action!r} does not apply to service {self.service!r} "
                f"(it takes {sorted(allowed)})"
            )
        if action == "error" and self.error is None and self.service != "payment-provider":
            raise ValueError("an error rule needs `error`: {statusCode, code}")
        if action == "latency" and not self.latency:
            raise ValueError("a latency rule needs `latency` in milliseconds")
        if self.function is not None and self.service != "lambda":
            raise ValueError("`function` applies to service 'lambda' only")
        return self

    @property
    def kind_action(self) -> str:
        if self.action is not None:
            return self.action
        if self.error is not None:
            return "error"
        return "latency" if self.latency else "error"

    @property
    def kind(self) -> str:
        return f"{self.service}.{self.kind_action}"

    def applies_to(self, service: str, operation: str | None, function: str | None) -> bool:
        return (
            self.service == service
            and (self.operation is None or self.operation == operation)
            and (self.function is None or self.function == function)
        )


RULES = TypeAdapter(list[FaultRule])


class FaultRegistry:
    """The rules in force, which fire at random (seedable), and what has fired so far."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = list(rules or [])
        self._fired: Counter[int] = Counter()  # index in _rules -> times fired
        self._by_kind: Counter[str] = Counter()  # survives rule changes: a run's total
        self._listeners: list[Callable[[list[FaultRule]], None]] = []

    def subscribe(self, listener: Callable[[list[FaultRule]], None]) -> None:
        """Tell `listener` the rules now, and again each time they change."""
        with self._lock:
            self._listeners.append(listener)
            rules = list(self._rules)
        listener(rules)

    def _changed(self) -> None:
        with self._lock:
            listeners, rules = list(self._listeners), list(self._rules)
        for listener in listeners:
            listener(rules)

    # ------------------------------------------------------------------ the API's verbs
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def replace(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules, self._fired = list(rules), Counter()
        self._changed()

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)
        self._changed()

    def remove(self, rules: list[FaultRule] | None) -> None:
        """Remove the rules equal to these; all of them when None."""
        with self._lock:
            if rules is None:
                self._rules, self._fired = [], Counter()
            else:
                kept = [(i, r) for i, r in enumerate(self._rules) if r not in rules]
                self._fired = Counter({new: self._fired[old] for new, (old, _) in enumerate(kept)})
                self._rules = [r for _, r in kept]
        self._changed()

    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind (`dynamodb.error`, `lambda.kill-after`, ...)."""
        with self._lock:
            return dict(self._by_kind)

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {
                "rules": [
                    {**r.model_dump(mode="json", by_alias=True, exclude_none=True), "fired": n}
                    for r, n in zip(self._rules, self._fired_list(), strict=True)
                ],
                "injected": dict(self._by_kind),
            }

    def _fired_list(self) -> list[int]:
        return [self._fired[i] for i in range(len(self._rules))]

    # ------------------------------------------------------------------ injection points
    def draw(
        self,
        service: str,
        operation: str | None = None,
        *,
        function: str | None = None,
        actions: set[str] | None = None,
    ) -> FaultRule | None:
        """The first rule for this call that fires now (and is counted), or None.

        `actions` narrows the draw to what the caller can inject at this point (an invoke can
        be throttled before a worker is chosen, killed only once it has one).
        """
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.applies_to(service, operation, function):
                    continue
                if actions is not None and rule.kind_action not in actions:
                    continue
                if rule.limit is not None and self._fired[index] >= rule.limit:
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                self._fired[index] += 1
                self._by_kind[rule.kind] += 1
                return rule
        return None
