"""Trace ids, segment ids and the `X-Amzn-Trace-Id` header, as X-Ray writes them.

A trace id is `1-<8 hex digits of epoch seconds>-<24 hex digits>`; a segment id 16 hex digits;
the header `Root=<trace id>;Parent=<segment id>;Sampled=<0|1>` (AWS X-Ray developer guide,
"Tracing header").
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now if now is not None else time.time()):08x}-{secrets.token_hex(12)}"


def new_segment_id() -> str:
    return secrets.token_hex(8)


def is_trace_id(text: str) -> bool:
    return bool(_TRACE_ID.match(text))


@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None = None
    sampled: bool | None = None  # None: the receiver decides (Sampled=? or absent)

    @classmethod
    def parse(cls, text: str | None) -> TraceHeader | None:
        """The header's fields; None when absent or without a valid Root."""
        if not text:
            return None
        fields: dict[str, str] = {}
        for part in text.split(";"):
            key, _, value = part.strip().partition("=")
            fields[key.strip().lower()] = value.strip()
        root = fields.get("root", "")
        if not is_trace_id(root):
            return None
        sampled = {"1": True, "0": False}.get(fields.get("sampled", ""))
        return cls(root, fields.get("parent") or None, sampled)

    def with_parent(self, parent: str) -> TraceHeader:
        return TraceHeader(self.root, parent, self.sampled)

    def __str__(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={1 if self.sampled else 0}")
        return ";".join(parts)
