"""Delivery to a topic's HTTP/HTTPS and email subscriptions, where moto falls short.

moto delivers to SQS subscriptions itself (the JSON envelope, signed, or raw), which is kept.
For HTTP/HTTPS it posts synchronously, inside the Publish call, without SNS's headers; email is
not delivered at all, and every subscription is confirmed at once. `SnsDelivery.install()`
takes over those protocols in moto's `Subscription.publish` (the one place every Publish passes
through, whether from the API, Step Functions or a CloudWatch alarm), after moto's own filter
policy and MessageStructure handling, and models their confirmation:

- Subscribe (http, https, email, email-json) leaves the subscription PendingConfirmation and
  sends the confirmation: a `SubscriptionConfirmation` POST (Token, SubscribeURL) or an email
  with the link. Until ConfirmSubscription (TopicArn, Token) is called, or the SubscribeURL
  visited (`/_localcloud/sns/confirm?...` on the AWS endpoint), nothing is delivered to it, as
  on AWS. SQS subscriptions in the account need no confirmation.

- http/https: a POST of SNS's JSON envelope (moto builds and signs it) with the
  `x-amz-sns-message-type`, `x-amz-sns-message-id`, `x-amz-sns-topic-arn`,
  `x-amz-sns-subscription-arn` headers and SNS's user agent, from a background thread; a
  failed delivery is retried as the default delivery policy says (3 retries, 20 s apart).
- email / email-json: captured, like SES messages, readable at `/_localcloud/sns/messages`.

Not modelled: valid signatures on confirmation messages (moto signs notifications only), the
"pending confirmation" SubscriptionArn in Subscribe and List* answers (moto returns the ARN),
delivery policies other than the default, and SMS, mobile push and Firehose subscriptions.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from moto.core.responses import ActionResult
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, Subscription
from moto.sns.responses import SNSResponse

log = logging.getLogger("localcloud.sns")

HANDLED_PROTOCOLS = frozenset({"http", "https", "email", "email-json"})
DEFAULT_SUBJECT = "AWS Notification Message"
SENDER = "no-reply@sns.amazonaws.com"
HTTP_RETRIES = 3  # the default delivery policy: numRetries 3,
HTTP_RETRY_DELAY_SECONDS = 20.0  # minDelayTarget = maxDelayTarget = 20 s, linear
HTTP_TIMEOUT_SECONDS = 15.0  # SNS waits 15 s for an HTTP endpoint's answer

_moto_publish = Subscription.publish
_moto_subscribe = SNSBackend.subscribe
_moto_confirm = SNSResponse.confirm_subscription
CONFIRM_PATH = "/_localcloud/sns/confirm"
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
        self._tokens: dict[str, Subscription] = {}  # confirmation token -> its subscription
        self._pending: set[str] = set()  # ARNs of subscriptions not confirmed yet
        self.endpoint_url = (
            "http://127.0.0.1:4566"  # where SubscribeURL points (the facade sets it)
        )

    # ------------------------------------------------------------ lifecycle
    def install(self) -> SnsDelivery:
        with _install_lock:
            if _Installed.delivery not in (None, self):
                raise RuntimeError("another SnsDelivery is installed in this process")
            _Installed.delivery = self
            Subscription.publish = _publish  # type: ignore[method-assign,assignment]
            SNSBackend.subscribe = _subscribe  # type: ignore[method-assign]
            SNSResponse.confirm_subscription = _confirm_subscription  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        self._closed.set()
        with _install_lock:
            if _Installed.delivery is self:
                _Installed.delivery = None
                Subscription.publish = _moto_publish  # type: ignore[method-assign]
                SNSBackend.subscribe = _moto_subscribe  # type: ignore[method-assign]
                SNSResponse.confirm_subscription = _moto_confirm  # type: ignore[method-assign]

    # ------------------------------------------------------------ what was delivered
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for message in self._messages]

    def _record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._messages.append(entry)
        return entry

    # ------------------------------------------------------------ confirmation
    def pending(self, subscription: Subscription) -> bool:
        with self._lock:
            return subscription.arn in self._pending

    def request_confirmation(self, subscription: Subscription) -> None:
        """A new HTTP/HTTPS/email subscription: pending, and the confirmation is sent."""
        token = secrets.token_hex(64)
        with self._lock:
            self._tokens[token] = subscription
            self._pending.add(subscription.arn)
        subscription.confirmed = False
        subscription.attributes["PendingConfirmation"] = "true"
        subscription.attributes["ConfirmationWasAuthenticated"] = "false"
        topic = subscription.topic
        query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic.arn, "Token": token})
        subscribe_url = f"{self.endpoint_url}{CONFIRM_PATH}?{query}"
        entry: dict[str, Any] = {
            "messageId": str(uuid.uuid4()),
            "topicArn": topic.arn,
            "subscriptionArn": subscription.arn,
            "protocol": subscription.protocol,
            "endpoint": subscription.endpoint,
            "timestamp": datetime.now(UTC).isoformat(),
            "type": "SubscriptionConfirmation",
            "subscribeUrl": subscribe_url,
        }
        if subscription.protocol in ("email", "email-json"):
            self._record(
                {
                    **entry,
                    "source": f'"AWS Notifications" <{SENDER}>',
                    "subject": "AWS Notification - Subscription Confirmation",
                    "body": (
                        f"You have chosen to subscribe to the topic: \n{topic.arn}\n\n"
                        "To confirm this subscription, click or visit the link below (If this"
                        f" was in error no action is necessary): \n{subscribe_url}\n\nPlease do"
                        " not reply directly to this email."
                    ),
                }
            )
            log.info("sns: confirmation mailed to %s for %s", subscription.endpoint, topic.arn)
            return
        envelope = {
            "Type": "SubscriptionConfirmation",
            "MessageId": entry["messageId"],
            "Token": token,
            "TopicArn": topic.arn,
            "Message": (
                f"You have chosen to subscribe to the topic {topic.arn}.\nTo confirm the"
                " subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": subscribe_url,
            "Timestamp": entry["timestamp"],
            "SignatureVersion": "2",
        }
        record = self._record({**entry, "status": "pending", "attempts": 0})
        threading.Thread(
            target=self._post,
            args=(subscription, envelope, record),
            name="sns-http-confirmation",
            daemon=True,
        ).start()

    def confirm(self, topic_arn: str, token: str) -> str:
        """ConfirmSubscription: the subscription's ARN; SNSInvalidParameter for a bad token."""
        with self._lock:
            subscription = self._tokens.get(token)
            if subscription is None or subscription.topic.arn != topic_arn:
                raise SNSInvalidParameter("Invalid token")
            self._pending.discard(subscription.arn)
        subscription.confirmed = True
        subscription.attributes["PendingConfirmation"] = "false"
        log.info("sns: %s confirmed %s", subscription.endpoint, subscription.arn)
        return str(subscription.arn)

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
                **(
                    {"x-amz-sns-subscription-arn": subscription.arn}
                    if envelope["Type"] == "Notification"
                    else {}
                ),
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
    if delivery.pending(self):
        log.info(
            "sns: not delivered to %s: its subscription is pending confirmation", self.endpoint
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


def _subscribe(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
    """moto's subscribe; a new HTTP/HTTPS/email subscription then awaits its confirmation."""
    existing = self._find_subscription(topic_arn, endpoint, protocol)
    subscription = _moto_subscribe(self, topic_arn, endpoint, protocol)
    delivery = _Installed.delivery
    if delivery is not None and protocol in HANDLED_PROTOCOLS and existing is None:
        delivery.request_confirmation(subscription)
    return subscription


def _confirm_subscription(self: SNSResponse) -> ActionResult:
    """ConfirmSubscription with the token SNS sent (moto's own accepts anything)."""
    delivery = _Installed.delivery
    if delivery is None:
        return _moto_confirm(self)
    topic_arn = self._get_param("TopicArn")
    arn = delivery.confirm(topic_arn, self._get_param("Token") or "")
    return ActionResult({"SubscriptionArn": arn})


def confirm_from_url(topic_arn: str, token: str) -> tuple[int, dict[str, str]]:
    """A visit to a SubscribeURL: (status, body) for the AWS endpoint to answer."""
    delivery = _Installed.delivery
    if delivery is None:
        return 404, {"message": "SNS delivery is not running", "code": "NOT_FOUND"}
    try:
        return 200, {"SubscriptionArn": delivery.confirm(topic_arn, token)}
    except SNSInvalidParameter:
        return 400, {"message": "Invalid token", "code": "InvalidParameter"}
