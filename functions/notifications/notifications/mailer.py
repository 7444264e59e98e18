"""Sending email: the only code that talks to SES."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

    from notifications.models import Email


class Mailer(ABC):
    @abstractmethod
    def send(self, email: Email) -> str:
        """Send the email; returns the provider's message id."""


class SesMailer(Mailer):
    def __init__(self, sender: str, ses: SESClient | None = None) -> None:
        self._sender = sender
        self._ses = ses or boto3.client("ses")

    def send(self, email: Email) -> str:
        response = self._ses.send_email(
            Source=self._sender,
            Destination={"ToAddresses": [email.to]},
            Message={
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": email.body, "Charset": "UTF-8"}},
            },
        )
        return response["MessageId"]
