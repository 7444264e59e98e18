"""Delivery to a topic's HTTP/HTTPS and email subscriptions, where moto falls short.

moto delivers to SQS subscriptions itself (the JSON envelope, signed, or raw), which is kept.
For HTTP/HTTPS it posts synchronously, inside the Publish call, without SNS's headers; email is
not delivered at all. `SnsDelivery.install()` takes over those protocols in moto's
`Subscription.publish` (the one place every Publish passes through, whether from the API, Step
Functions or a CloudWatch alarm), after moto's own filter policy and MessageStructure handling:

- http/https: a POST of SNS's JSON envelope (moto builds and signs it) with the
  `x-amz-sns-message-type`, `x-amz-sns-message-id`, `x-amz-sns-topic-arn`,
  `x-amz-sns-subscription-arn` headers and SNS's user agent, from a background thread; a
  failed delivery is retried as the default delivery policy says (3 retries, 20 s apart).
- email / email-json: captured, like SES messages, readable at `/_localcloud/sns/messages`.

Not modelled: the SubscriptionConfirmation handshake (moto confirms every subscription at once),
delivery policies other than the default, and SMS, mobile push and Firehose subscriptions.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from moto.sns.models import Subscription

log = logging.getLogger("localcloud.sns")

HANDLED_PROTOCOLS = frozenset({"http", "https", "email", "email-json"})
DEFAULT_SUBJECT = "AWS Notification Message"
SENDER = "no-reply@sns.amazonaws.com"
HTTP_RETRIES = 3  # the default delivery policy: numRetries 3,
HTTP_RETRY_DELAY_SECONDS = 20.0  # minDelayTarget = maxDelayTarget = 20 s, linear
HTTP_TIMEOUT_SECONDS = 15.0  # SNS waits 15 s for an HTTP endpoint's answer

_moto_publish = Subscription.publish
_install_lock = threading.Lock()


class _Installed:
    delivery: SnsDelivery | None = None


class SnsDelivery:
    """Delivers HTTP/HTTPS notifications and keeps the emails SNS sends, while installed."""

    def __init__(
        self,
        *,
        http_retries: int = HTTP_RETRIES,
        http_retry_delay: float = HTTP_RETRY_DELAY_SECONDS,
    ) -> None:
        self._http_retries = http_retries
        self._http_retry_delay = http_retry_delay
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._closed = threading.Event()

    # ------------------------------------------------------------ lifecycle
    def install(self) -> SnsDelivery:
        with _install_lock:
            if _Installed.delivery not in (None, self):
                raise RuntimeError("another SnsDelivery is installed in this process")
            _Installed.delivery = self
            Subscription.publish = _publish  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        self._closed.set()
        with _install_lock:
            if _Installed.delivery is self:
                _Installed.delivery = None
                Subscription.publish = _moto_publish  # type: ignore[method-assign]

    # ------------------------------------------------------------ what was delivered
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for message in self._messages]

    def _record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._messages.append(entry)
        return entry

    # ------------------------------------------------------------ delivery
    def deliver(
        self,
        subscription: Subscription,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None,
    ) -> None:
        topic = subscription.topic
        entry: dict[str, Any] = {
            "messageId": message_id,
            "topicArn": topic.arn,
            "subscriptionArn": subscription.arn,
            "protocol": subscription.protocol,
            "endpoint": subscription.endpoint,
            "subject": subject,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        if subscription.protocol == "email":
            display_name = topic.display_name or topic.name
            self._record(
                {
                    **entry,
                    "source": f'"{display_name}" <{SENDER}>',
                    "subject": subject or DEFAULT_SUBJECT,
                    "body": _email_body(message, subscription),
                }
            )
            log.info("sns email to %s: %s", subscription.endpoint, subject or DEFAULT_SUBJECT)
            return
        envelope = subscription.get_post_data(
            message, message_id, subject, message_attributes=message_attributes
        )
        if subscription.protocol == "email-json":
            self._record({**entry, "source": SENDER, "body": json.dumps(envelope)})
            return
        record = self._record({**entry, "status": "pending", "attempts": 0})
        threading.Thread(
            target=self._post,
            args=(subscription, envelope, record),
            name="sns-http",
            daemon=True,
        ).start()

    def _post(
        self, subscription: Subscription, envelope: dict[str, Any], record: dict[str, Any]
    ) -> None:
        request = urllib.request.Request(
            subscription.endpoint,
            data=json.dumps(envelope).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "text/plain; charset=UTF-8",
                "User-Agent": "Amazon Simple Notification Service Agent",
                "x-amz-sns-message-type": envelope["Type"],
                "x-amz-sns-message-id": envelope["MessageId"],
                "x-amz-sns-topic-arn": envelope["TopicArn"],
                "x-amz-sns-subscription-arn": subscription.arn,
            },
        )
        for attempt in range(1 + self._http_retries):
            with self._lock:
                record["attempts"] = attempt + 1
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except (urllib.error.URLError, OSError) as error:
                status = None
                log.warning("sns http delivery to %s failed: %s", subscription.endpoint, error)
            if status is not None and 200 <= status < 300:
                with self._lock:
                    record["status"] = "delivered"
                return
            if self._closed.wait(self._http_retry_delay):
                break
        with self._lock:
            record["status"] = "failed"
        log.error(
            "sns http delivery to %s failed after %s attempts",
            subscription.endpoint,
            record["attempts"],
        )


def _email_body(message: str, subscription: Subscription) -> str:
    unsubscribe = (
        f"https://sns.{subscription.topic.sns_backend.region_name}.amazonaws.com/unsubscribe.html"
        f"?SubscriptionArn={subscription.arn}&Endpoint={subscription.endpoint}"
    )
    return (
        f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic, please"
        f" click or visit the link below to unsubscribe:\n{unsubscribe}\n\nPlease do not reply"
        " directly to this email. If you have any questions or comments regarding this email,"
        " please contact us at https://aws.amazon.com/support"
    )


def _publish(
    self: Subscription,
    message: str,
    message_id: str,
    *,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    """moto's Subscription.publish, with HTTP/HTTPS and email delivered by localcloud."""
    delivery = _Installed.delivery
    if delivery is None or self.protocol not in HANDLED_PROTOCOLS:
        _moto_publish(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    delivery.deliver(self, message, message_id, subject, message_attributes)


def delivered_messages() -> list[dict[str, Any]]:
    """What the installed delivery sent (emails) and posted (HTTP), for /_localcloud/sns."""
    delivery = _Installed.delivery
    return delivery.messages() if delivery is not None else []
