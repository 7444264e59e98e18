"""GetTraceSummaries' FilterExpression, which moto answers with "Not implemented yet".

A subset of X-Ray's filter expression language (X-Ray developer guide, "Using filter
expressions") is evaluated over each trace's segments and subsegments:

- `annotation.KEY` / `annotation[KEY]`, alone (the key exists) or compared with `=`, `!=`,
  `<`, `<=`, `>`, `>=` to a string, number or true/false;
- `service("name")`: a segment of that name;
- `http.status`, `http.url`, `http.method` compared (`CONTAINS` and `BEGINSWITH` for text);
- `duration` and `responsetime` (seconds) compared to a number;
- `ok`, `error`, `fault`, `throttle`;
- combined with `AND`, `OR`, `NOT` and parentheses.

Anything else is refused with InvalidRequestException naming what is not supported, never
answered wrongly. `install` also fills each summary's `Annotations`, as X-Ray does.
"""

from __future__ import annotations

import json
import operator
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

Predicate = Callable[["TraceFacts"], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>!=|<=|>=|=|<|>|\(|\)|\[|\]|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.:-]*)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "CONTAINS": lambda a, b: isinstance(a, str) and str(b) in a,
    "BEGINSWITH": lambda a, b: isinstance(a, str) and a.startswith(str(b)),
    "ENDSWITH": lambda a, b: isinstance(a, str) and a.endswith(str(b)),
}
_install_lock = threading.Lock()
_collection_lock = threading.Lock()


class FilterError(ValueError):
    pass


class TraceFacts:
    """What a filter can ask of one trace: every segment document and subsegment in it."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents
        self.nodes = [node for document in documents for node in _walk(document)]
        starts = [float(d["start_time"]) for d in documents if "start_time" in d]
        ends = [float(d["end_time"]) for d in documents if d.get("end_time") is not None]
        self.duration = (max(ends) - min(starts)) if starts and ends else 0.0
        roots = [d for d in documents if not d.get("parent_id")] or documents
        root = min(roots, key=lambda d: float(d.get("start_time", 0))) if roots else {}
        self.root = root
        end = root.get("end_time")
        self.response_time = float(end) - float(root.get("start_time", 0)) if end else 0.0

    def annotations(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for node in self.nodes:
            for key, value in (node.get("annotations") or {}).items():
                if value not in found.setdefault(key, []):
                    found[key].append(value)
        return found

    def flag(self, name: str) -> bool:
        return any(bool(node.get(name)) for node in self.nodes)

    def http(self, field: str) -> list[Any]:
        values = []
        for node in self.documents:
            http = node.get("http") or {}
            if field == "status":
                values.append((http.get("response") or {}).get("status"))
            else:
                values.append((http.get("request") or {}).get(field))
        return [value for value in values if value is not None]


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("subsegments") or []:
        yield from _walk(child)


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read the filter expression at: {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "string":
            value = json.loads(value)
        elif kind == "number":
            value = float(value)
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise FilterError("the filter expression ends too early")
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got != value:
            raise FilterError(f"expected {value!r}, found {got!r}")

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and str(token[1]).upper() in words

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.at_word("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda t: any(p(t) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.at_word("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else lambda t: all(p(t) for p in parts)

    def negation(self) -> Predicate:
        if self.at_word("NOT"):
            self.take()
            inner = self.negation()
            return lambda t: not inner(t)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.term()

    def comparison(self) -> tuple[Callable[[Any, Any], bool], Any] | None:
        token = self.peek()
        if token is None:
            return None
        kind, value = token
        name = str(value).upper() if kind == "word" else value
        if (kind == "op" and value in _COMPARE) or (kind == "word" and name in _COMPARE):
            self.take()
            _, operand = self.take()
            if isinstance(operand, str) and operand.lower() in {"true", "false"}:
                operand = operand.lower() == "true"
            return _COMPARE[name], operand
        return None

    def annotation(self, word: str) -> Predicate:
        if word.lower() == "annotation":
            self.expect("[")
            _, key = self.take()
            self.expect("]")
        else:
            key = word[len("annotation.") :]
        compare = self.comparison()
        if compare is None:
            return lambda t: str(key) in t.annotations()
        test, operand = compare
        return lambda t: any(_safe(test, v, operand) for v in t.annotations().get(key, []))

    def term(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise FilterError(f"expected a keyword, found {word!r}")
        lowered = str(word).lower()
        if lowered in {"ok", "error", "fault", "throttle"}:
            if lowered == "ok":
                return lambda t: not (t.flag("error") or t.flag("fault") or t.flag("throttle"))
            return lambda t: t.flag(lowered)
        if lowered == "annotation" or lowered.startswith("annotation."):
            return self.annotation(str(word))
        if lowered == "service":
            self.expect("(")
            _, name = self.take()
            self.expect(")")
            return lambda t: any(d.get("name") == name for d in t.documents)
        if lowered in {"duration", "responsetime"}:
            compare = self.comparison()
            if compare is None:
                raise FilterError(f"{word} needs a comparison")
            test, operand = compare
            if lowered == "duration":
                return lambda t: _safe(test, t.duration, operand)
            return lambda t: _safe(test, t.response_time, operand)
        if lowered in {"http.status", "http.url", "http.method"}:
            compare = self.comparison()
            if compare is None:
                raise FilterError(f"{word} needs a comparison")
            test, operand = compare
            field = lowered.split(".", 1)[1]
            return lambda t: any(_safe(test, v, operand) for v in t.http(field))
        raise FilterError(f"localcloud does not support the filter keyword {word!r}")


def _safe(test: Callable[[Any, Any], bool], value: Any, operand: Any) -> bool:
    try:
        return bool(test(value, operand))
    except TypeError:
        return False


def compile_filter(text: str) -> Predicate:
    return _Parser(text).parse()


def _annotation_summary(facts: TraceFacts) -> dict[str, list[dict[str, Any]]]:
    summary: dict[str, list[dict[str, Any]]] = {}
    for key, values in facts.annotations().items():
        summary[key] = []
        for value in values:
            typed: dict[str, Any]
            if isinstance(value, bool):
                typed = {"BooleanValue": value}
            elif isinstance(value, int | float):
                typed = {"NumberValue": value}
            else:
                typed = {"StringValue": str(value)}
            summary[key].append({"AnnotationValue": typed, "ServiceIds": []})
    return summary


def install() -> None:
    """Evaluate FilterExpression in moto's GetTraceSummaries; fill Annotations; and one
    lock around moto's segment collection (its reads iterate the dict a put grows: the daemon
    writes while the console reads) (once)."""
    from moto.core.exceptions import AWSError
    from moto.xray.models import SegmentCollection

    with _install_lock:
        moto_summary = SegmentCollection.summary
        if getattr(moto_summary, "localcloud", False):
            return
        moto_put = SegmentCollection.put_segment
        moto_get = SegmentCollection.get_trace_ids

        def put_segment(self: SegmentCollection, segment: Any) -> None:
            with _collection_lock:
                moto_put(self, segment)

        def get_trace_ids(self: SegmentCollection, trace_ids: list[str]) -> Any:
            with _collection_lock:
                return moto_get(self, trace_ids)

        def summary(
            self: SegmentCollection, start_time: Any, end_time: Any, filter_expression: Any = None
        ) -> dict[str, Any]:
            predicate: Predicate | None = None
            if filter_expression:
                try:
                    predicate = compile_filter(str(filter_expression))
                except FilterError as error:
                    raise AWSError(
                        str(error), exception_type="InvalidRequestException", status=400
                    ) from None
            with _collection_lock:
                result = moto_summary(self, start_time, end_time, None)
                documents = {
                    item["Id"]: [segment.raw for segment in self._traces[item["Id"]]["segments"]]
                    for item in result["TraceSummaries"]
                }
            kept = []
            for item in result["TraceSummaries"]:
                facts = TraceFacts([json.loads(raw) for raw in documents[item["Id"]]])
                if predicate is not None and not predicate(facts):
                    continue
                item["Annotations"] = _annotation_summary(facts)
                item["Duration"] = facts.duration
                item["ResponseTime"] = facts.response_time
                kept.append(item)
            result["TraceSummaries"] = kept
            result["TracesProcessedCount"] = len(kept)
            return result

        summary.localcloud = True  # type: ignore[attr-defined]
        SegmentCollection.summary = summary  # type: ignore[method-assign]
        SegmentCollection.put_segment = put_segment  # type: ignore[method-assign]
        SegmentCollection.get_trace_ids = get_trace_ids  # type: ignore[method-assign]
