"""localcloud creates every resource type template.yaml uses (issue 7's additions included):
the alerts topic's key with its policy, the email subscription, the dashboard, log groups with
their retention, and the provider's secret created empty, as CloudFormation would."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.awsclients import AwsClients
from localcloud.cloudformation.provision import Provisioner
from localcloud.cloudformation.template import Template
from localcloud.endpoint.server import AwsEndpoint
from tests.support.template import TEMPLATE

SETTINGS = {
    "PaymentProviderBaseUrl": "https://provider.example",
    "NotificationSenderEmail": "orders@shop.example",
    "OperatorAlertEmail": "oncall@shop.example",
}


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[Template, AwsClients]]:
    # Given the template with the operator's settings, When localcloud provisions it
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    endpoint = AwsEndpoint(runtime=None, status=dict)
    endpoint.serve("127.0.0.1", 0)
    try:
        template = Template.load(TEMPLATE, SETTINGS)
        clients = AwsClients(endpoint.url)
        Provisioner(template, clients).create_all()
        yield template, clients
    finally:
        endpoint.close()


def test_the_alerts_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    provisioned: tuple[Template, AwsClients],
) -> None:
    template, clients = provisioned
    topic = clients.client("sns").get_topic_attributes(TopicArn=template.ref("OperatorAlertsTopic"))
    key_id = topic["Attributes"]["KmsMasterKeyId"]
    assert key_id == template.ref("OperatorAlertsKey")
    kms = clients.client("kms")
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    services = [s["Principal"].get("Service") for s in policy["Statement"]]
    assert "cloudwatch.amazonaws.com" in services
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/shop/operator-alerts"]


def test_the_operator_address_is_subscribed(provisioned: tuple[Template, AwsClients]) -> None:
    template, clients = provisioned
    subscriptions = clients.client("sns").list_subscriptions_by_topic(
        TopicArn=template.ref("OperatorAlertsTopic")
    )["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("email", "oncall@shop.example")
    ]


def test_the_dashboard_exists_with_its_widgets(provisioned: tuple[Template, AwsClients]) -> None:
    template, clients = provisioned
    body = clients.client("cloudwatch").get_dashboard(
        DashboardName=template.ref("OperationsDashboard")
    )["DashboardBody"]
    widgets = json.loads(body)["widgets"]
    titles = [w["properties"]["title"] for w in widgets if w["type"] == "metric"]
    assert any("funnel" in t for t in titles)
    # the text widget that links each figure to its console on AWS
    assert any(w["type"] == "text" and "console" in w["properties"]["markdown"] for w in widgets)
    assert template.ref("OrderSagaStateMachine") in body  # ${...} resolved to the real ARN


def test_every_log_group_has_its_retention(provisioned: tuple[Template, AwsClients]) -> None:
    template, clients = provisioned
    groups: dict[str, Any] = {
        g["logGroupName"]: g for g in clients.client("logs").describe_log_groups()["logGroups"]
    }
    for logical_id, _ in template.of_type("AWS::Logs::LogGroup"):
        assert groups[template.ref(logical_id)]["retentionInDays"] == 30, logical_id


def test_the_provider_secret_is_empty_until_a_value_is_put(
    provisioned: tuple[Template, AwsClients],
) -> None:
    template, clients = provisioned
    secret = template.ref("PaymentProviderApiKeySecret")
    with pytest.raises(ClientError) as raised:
        clients.secretsmanager.get_secret_value(SecretId=secret)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_user_pool_and_its_public_client_are_provisioned_hardened(
    provisioned: tuple[Template, AwsClients],
) -> None:
    # Then moto's pool has the template's MFA (TOTP, optional), and the public client the
    # template's flows, existence-error hiding and token lifetimes (issue 11, finding 6)
    template, clients = provisioned
    pool_id = template.ref("UserPool")
    mfa = clients.cognito.get_user_pool_mfa_config(UserPoolId=pool_id)
    assert mfa["MfaConfiguration"] == "OPTIONAL"
    assert mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}

    client = clients.cognito.describe_user_pool_client(
        UserPoolId=pool_id, ClientId=template.ref("UserPoolClient")
    )["UserPoolClient"]
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert (client["IdTokenValidity"], client["AccessTokenValidity"]) == (60, 60)
    assert client["RefreshTokenValidity"] == 7
    assert client["TokenValidityUnits"] == {
        "IdToken": "minutes",
        "AccessToken": "minutes",
        "RefreshToken": "days",
    }
    assert client["EnableTokenRevocation"] is True
