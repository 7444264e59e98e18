"""The notifications service's errors."""

from __future__ import annotations

from shop_shared.errors import NotFound


class ContactNotFound(NotFound):
    """No contact for the customer (yet): the record fails, SQS retries it, then the DLQ."""

    code = "CONTACT_NOT_FOUND"
