"""A received message's retention checked against the queue's period, not all its attributes.

moto's ReceiveMessage asks, for every message it hands out, whether the message is still
within the queue's MessageRetentionPeriod, and reads that period through
`get_queue_attributes(queue, ["MessageRetentionPeriod"])`, which builds the queue's whole
attribute map three times (ApproximateNumberOfMessages, ...NotVisible and ...Delayed each
scan every message of the queue). That was three quarters of a ReceiveMessage's CPU with
three messages on a queue, and grows with the queue: under a burst the event source pollers
receive from queues holding dozens.

`install()` reads the period from the queue itself (`Queue.message_retention_period`, the
value the attribute map is built from) with moto's own rule for what is still retained.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.utils import unix_time

_install_lock = threading.Lock()
_installed = False
moto_is_retained: Any = None  # moto's own, kept for comparison


def install() -> None:
    global _installed, moto_is_retained  # noqa: PLW0603 - moto's backend is process-wide
    from moto.sqs.models import SQSBackend

    with _install_lock:
        if _installed:
            return
        moto_is_retained = SQSBackend.is_message_valid_based_on_retention_period
        SQSBackend.is_message_valid_based_on_retention_period = is_retained  # type: ignore[method-assign,assignment]
        _installed = True


def is_retained(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's rule: sent less than MessageRetentionPeriod seconds ago."""
    retention_period = backend.get_queue(queue_name).message_retention_period
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())
