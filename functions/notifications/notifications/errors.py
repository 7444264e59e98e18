"""The notifications service's errors."""

from __future__ import annotations

from shop_shared.errors import NotFound, TransientError


class ContactNotFound(NotFound):
    """No contact for the customer (yet): the record fails, SQS retries it, then the DLQ."""

    code = "CONTACT_NOT_FOUND"


class NotificationsTableBusy(TransientError):
    """DynamoDB left keys unprocessed round after round (throttled): the record is retried."""

    code = "NOTIFICATIONS_TABLE_BUSY"
