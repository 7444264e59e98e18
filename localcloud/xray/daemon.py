"""The X-Ray daemon: segment documents in over UDP, out to X-Ray's PutTraceSegments.

The SDKs (and Lambda's runtime) send each document as one UDP datagram to
AWS_XRAY_DAEMON_ADDRESS: a header line `{"format": "json", "version": 1}`, a newline, then the
segment (or independently sent subsegment) JSON. The daemon batches what it receives and calls
PutTraceSegments (at most 50 documents a call, AWS's limit, or what came within a second),
here against localcloud's endpoint, so the segments land in moto's X-Ray backend and
`aws xray get-trace-summaries` / `batch-get-traces` find them. localcloud's own emulated
services hand their segments to `emit`.

The call is the SDK's request (`POST /TraceSegments`, the documents as the JSON body, signed as
localcloud's admin) handed to the endpoint's app in this process without a botocore client
(localcloud.endpoint.direct_calls: same IAM gate, fault rules, meter and moto, the client's
retries): a batch of 50 documents cost 3.5-3.9 ms of CPU with the client, 2.4-2.6 ms so, the
rest being moto's.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import threading
import time
from typing import Any

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.endpoint.direct_calls import DirectApi

logger = logging.getLogger(__name__)

HEADER = {"format": "json", "version": 1}
MAX_BATCH = 50  # PutTraceSegments' limit of documents per call
SEND_IDLE_SECONDS = 1.0  # the daemon's Processor.IdleTimeoutMillisecond (1000 by default)
_MAX_DATAGRAM = 65535


def datagram(document: dict[str, Any]) -> bytes:
    """One document as the SDKs send it to the daemon."""
    return (json.dumps(HEADER) + "\n" + json.dumps(document)).encode()


def parse_datagram(data: bytes) -> str | None:
    """The segment document of a datagram (JSON text), or None when it is not one."""
    text = data.decode("utf-8", errors="replace")
    header, newline, body = text.partition("\n")
    if not newline:
        return None
    try:
        if json.loads(header).get("format") != "json":
            return None
        document = json.loads(body)
    except (ValueError, AttributeError):
        return None
    return body if isinstance(document, dict) else None


class XRayDaemon:
    """Listens on UDP `host:port` (0: a free port) and forwards batches to X-Ray."""

    def __init__(self, endpoint_url: str, host: str = "127.0.0.1", port: int = 2000) -> None:
        self._xray = DirectApi(endpoint_url, "xray", LOCAL_CREDENTIALS, protocol="rest-json")
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.bind((host, port))
        except OSError as error:
            if port == 0 or error.errno != errno.EADDRINUSE:
                raise
            # Another localcloud (or a real daemon) has it: the workers are given the port
            # this one gets, so their segments still arrive.
            self._socket.bind((host, 0))
            logger.warning(
                "UDP %s:%d is taken; the X-Ray daemon listens on %s", host, port, self.address
            )
        self._socket.settimeout(0.5)  # so close() is noticed
        # Documents waiting for their batch. The sender is woken when a batch starts (to time
        # it) and when it is full, not for every document: a queue.get per segment cost ~40 us
        # of CPU a document at a burst's ~100 segments a second (about what sending it costs),
        # and a GIL hand-over each time.
        self._ready = threading.Condition()
        self._pending: list[str] = []
        self._batch_started = 0.0  # monotonic time the oldest pending document arrived
        self._stopping = threading.Event()
        self.received = 0
        self.sent = 0
        self.rejected = 0
        self._threads = [
            threading.Thread(target=self._listen, name="xray-daemon-udp", daemon=True),
            threading.Thread(target=self._forward, name="xray-daemon-send", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        """What workers get as AWS_XRAY_DAEMON_ADDRESS."""
        host, port = self._socket.getsockname()[:2]
        return f"{host}:{port}"

    def emit(self, document: dict[str, Any]) -> None:
        """A segment from localcloud itself (API Gateway, Lambda, Step Functions)."""
        self._enqueue(json.dumps(document))

    def _enqueue(self, document: str) -> None:
        with self._ready:
            self._pending.append(document)
            if len(self._pending) == 1:
                self._batch_started = time.monotonic()
                self._ready.notify()
            elif len(self._pending) == MAX_BATCH:
                self._ready.notify()

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self._socket.recv(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            document = parse_datagram(data)
            if document is None:
                self.rejected += 1
                logger.debug("not a segment document: %r", data[:200])
                continue
            self.received += 1
            self._enqueue(document)

    def _forward(self) -> None:
        """As AWS's daemon: a batch goes when it holds MAX_BATCH documents or when SEND_IDLE
        seconds have passed since its first (one PutTraceSegments a second, not one for each
        segment: at one call per segment the traces were a tenth of localcloud's requests).
        On close, what is pending is sent."""
        while True:
            with self._ready:
                while not self._pending and not self._stopping.is_set():
                    self._ready.wait()
                if not self._pending:
                    return  # closing, nothing left
                send_by = self._batch_started + SEND_IDLE_SECONDS
                while len(self._pending) < MAX_BATCH and not self._stopping.is_set():
                    remaining = send_by - time.monotonic()
                    if remaining <= 0:
                        break
                    self._ready.wait(remaining)
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                # What is left arrived after this batch's first: its own second starts now at
                # the latest (a full batch goes at once).
                self._batch_started = time.monotonic()
            self._send(batch)

    def _send(self, batch: list[str]) -> None:
        try:
            answer = self._put_trace_segments(batch)
        except Exception:  # the daemon drops what X-Ray refuses, as AWS's daemon does
            logger.warning(
                "PutTraceSegments failed; %d segments dropped", len(batch), exc_info=True
            )
            return
        unprocessed = answer.get("UnprocessedTraceSegments") or []
        self.sent += len(batch) - len(unprocessed)
        for item in unprocessed:
            logger.warning("segment not stored", extra={"segment": item})

    def _put_trace_segments(self, batch: list[str]) -> dict[str, Any]:
        """X-Ray's PutTraceSegments (restJson1), as botocore sends it."""
        content = self._xray.call(
            "PutTraceSegments",
            json.dumps({"TraceSegmentDocuments": batch}).encode("utf-8"),
            content_type="application/json",
            path="/TraceSegments",
        )
        answer: dict[str, Any] = json.loads(content) if content.strip() else {}
        return answer

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "sent": self.sent, "rejected": self.rejected}

    def close(self) -> None:
        with self._ready:
            self._stopping.set()
            self._ready.notify()
        for thread in self._threads:
            thread.join(timeout=5)
        self._socket.close()
