"""Whether an AWS service may publish to an SNS topic, as far as the topic's KMS key decides.

A topic with server-side encryption needs the publisher to use its key (kms:GenerateDataKey*
and kms:Decrypt). Services that publish on their own behalf (CloudWatch alarms, EventBridge,
S3 notifications) act as their service principal, which the AWS-managed key `alias/aws/sns`
never allows: its key policy only trusts principals of the account calling through SNS. So a
CloudWatch alarm's action on such a topic fails ("CloudWatch Alarms does not have
authorization to access the SNS topic encryption key"), while a customer-managed key whose
policy allows `cloudwatch.amazonaws.com` works. This module reads the topic's KmsMasterKeyId
and the key policy from moto and answers that question; condition keys in the statement (such
as aws:SourceAccount) are taken as met, the caller being this account.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients

AWS_MANAGED_SNS_KEY = "alias/aws/sns"
_NEEDED_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class TopicKeyDenied(Exception):
    """The service principal may not use the topic's KMS key."""


def check_service_may_publish(clients: AwsClients, topic_arn: str, service: str) -> None:
    """Raise TopicKeyDenied when `service` (e.g. cloudwatch.amazonaws.com) can't use the key."""
    attributes = clients.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    key_id = attributes.get("KmsMasterKeyId") or ""
    if not key_id:
        return
    kms = clients.client("kms")
    if _is_aws_managed_sns_key(kms, key_id):
        raise TopicKeyDenied(
            f"the topic is encrypted with the AWS managed key {AWS_MANAGED_SNS_KEY}, whose key"
            f" policy does not allow {service}"
        )
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        policy = json.loads(
            kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"]
        )
    except ClientError as error:
        raise TopicKeyDenied(f"the topic's KMS key {key_id} is not usable: {error}") from error
    if metadata.get("KeyState") != "Enabled":
        raise TopicKeyDenied(f"the topic's KMS key {key_id} is {metadata.get('KeyState')}")
    missing = [a for a in _NEEDED_ACTIONS if not _allows(policy, service, a)]
    if missing:
        raise TopicKeyDenied(
            f"the key policy of {key_id} does not allow {service} {', '.join(missing)}"
        )


def _is_aws_managed_sns_key(kms: Any, key_id: str) -> bool:
    if key_id == AWS_MANAGED_SNS_KEY or key_id.endswith(f":{AWS_MANAGED_SNS_KEY}"):
        return True
    try:
        aliases = kms.list_aliases(KeyId=key_id).get("Aliases", [])
    except ClientError:
        return False
    return any(alias.get("AliasName") == AWS_MANAGED_SNS_KEY for alias in aliases)


def _allows(policy: dict[str, Any], service: str, action: str) -> bool:
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not _names(statement, service) or not _matches(statement.get("Action"), action):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _names(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    services = principal.get("Service", [])
    return service in ([services] if isinstance(services, str) else services) or (
        principal.get("AWS") == "*"
    )


def _matches(patterns: str | Iterable[str] | None, action: str) -> bool:
    if patterns is None:
        return False
    listed = [patterns] if isinstance(patterns, str) else list(patterns)
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in listed)
