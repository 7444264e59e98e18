"""GetRecords answered without moto's model-driven serializer.

moto 5 renders a response by walking the operation's output shape member by member (alias
lookups, name transforms, a call per value). A DynamoDB Streams record holds whole item
images, nested AttributeValue maps, so each GetRecords walked thousands of values: in the
200-order burst of issue 8 that was a fifth of localcloud's CPU (py-spy), for the pollers'
four reads a second per shard.

moto's records are already the wire's JSON (`StreamRecord.to_json`: AttributeValues as
DynamoDB writes them) except for two types JSON can't carry, which the shape would have
converted: binary values (B, BS) held as bytes, sent base64-encoded, and the record's
`ApproximateCreationDateTime`, a datetime, sent as epoch seconds truncated to the
millisecond (moto's `TimestampSerializer._timestamp_unixtimestamp`). `install()` answers
GetRecords with moto's own backend call and `json.dumps` with those two conversions; the
answer parses to the same records (tests/localcloud/test_stream_records.py compares both).

moto keeps every shard iterator it hands out, for ever; DynamoDB Streams' expire "15 minutes
after it is returned to the requester" (GetShardIterator's reference), and GetRecords with
one answers ExpiredIteratorException. `install()` expires them so: a reader polling a shard in
another process (DynamoDB's own, localcloud.dynamodb.process) gets a new iterator from every
GetRecords, and they would otherwise pile up.

`has_records` and `forget_iterator` serve localcloud's own stream readers (the event source
mappings): a reader asks moto's shard whether anything lies past its iterator before it sends
a GetRecords, so an idle shard costs no request (an empty GetRecords answers the same), and
drops each iterator once used (moto keeps every one it hands out).
"""

from __future__ import annotations

import base64
import calendar
import datetime
import json
import threading
import time
from collections import deque
from typing import Any

from moto.core.exceptions import JsonRESTError

from localcloud.spec import ACCOUNT_ID, REGION

_install_lock = threading.Lock()
_installed = False
moto_get_records: Any = None  # moto's own, kept for comparison


def install() -> None:
    global _installed, moto_get_records  # noqa: PLW0603 - moto's handlers are process-wide
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    with _install_lock:
        if _installed:
            return
        moto_get_records = DynamoDBStreamsHandler.get_records

        def get_records(self: DynamoDBStreamsHandler) -> str:
            limit = self._get_param("Limit")
            result = self.backend.get_records(
                self._get_param("ShardIterator"), 1000 if limit is None else limit
            )
            return json.dumps(result, default=_wire_value)

        DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign,assignment]
        _expire_iterators()
        _installed = True


ITERATOR_LIFETIME_SECONDS = 15 * 60


class ExpiredIteratorError(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ExpiredIteratorException", "Iterator expired")


class _ExpiringIterators(dict[str, Any]):
    """moto's iterators by id, each dropped ITERATOR_LIFETIME_SECONDS after it was made."""

    def __init__(self) -> None:
        super().__init__()
        self._made: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def __setitem__(self, key: str, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            super().__setitem__(key, value)
            self._made.append((now, key))
            while self._made and self._made[0][0] <= now - ITERATOR_LIFETIME_SECONDS:
                self.pop(self._made.popleft()[1], None)

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:  # expired, or never made: AWS says expired to both
            raise ExpiredIteratorError from None


def _expire_iterators() -> None:
    """Backends made from now on keep their iterators in an _ExpiringIterators."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    moto_init = DynamoDBStreamsBackend.__init__

    def init(self: DynamoDBStreamsBackend, region_name: str, account_id: str) -> None:
        moto_init(self, region_name, account_id)
        self.shard_iterators = _ExpiringIterators()

    DynamoDBStreamsBackend.__init__ = init  # type: ignore[method-assign]
    backend = _backend()  # made before (another localcloud in this process)
    if not isinstance(backend.shard_iterators, _ExpiringIterators):
        kept = backend.shard_iterators
        backend.shard_iterators = _ExpiringIterators()
        for key, iterator in kept.items():
            backend.shard_iterators[key] = iterator


def _wire_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        seconds = calendar.timegm(value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    raise TypeError(f"{type(value).__name__} is not part of a stream record")


def has_records(iterator: str) -> bool:
    """Whether a GetRecords with this iterator would return records (True when unsure)."""
    shard_iterator = _backend().shard_iterators.get(iterator)
    if shard_iterator is None:
        return True  # unknown to moto: let GetRecords give its own answer
    shard = shard_iterator.stream_shard
    position: int = shard_iterator.sequence_number - shard.starting_sequence_number
    return position < len(shard.items)


def forget_iterator(iterator: str) -> None:
    """moto keeps every shard iterator it hands out; a reader makes many, so drop used ones."""
    _backend().shard_iterators.pop(iterator, None)


def _backend() -> Any:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    return dynamodbstreams_backends[ACCOUNT_ID][REGION]
