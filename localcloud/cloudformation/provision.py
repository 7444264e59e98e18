"""Create the template's resources in moto with direct API calls.

moto's own CloudFormation can't deploy the translated template (see FIELD_NOTES), so each
resource type the template uses has a small creator here. Resources are created in the order
their references allow: a resource whose properties can't be resolved yet waits a round.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.cloudformation.tables import create_table
from localcloud.cloudformation.template import Template, Unresolved
from localcloud.spec import ACCOUNT_ID, REGION
from localcloud.waf.acl import WebAcl, create_web_acl_request

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients

log = logging.getLogger("localcloud.cloudformation.provision")

# Types localcloud has nothing to create for: their effect is local (functions, the API,
# roles) or is enforced elsewhere (event source mappings are run by localcloud itself).
_NOTHING_TO_CREATE = {
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::IAM::Role",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
}


# AWS::Cognito::UserPoolClient's properties CreateUserPoolClient takes as they are, besides the
# name, secret, flows and attributes (moto keeps them: DescribeUserPoolClient shows them).
_USER_POOL_CLIENT_SETTINGS = (
    "PreventUserExistenceErrors",
    "IdTokenValidity",
    "AccessTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "EnableTokenRevocation",
    "AuthSessionValidity",
)


# AWS::SecretsManager::Secret's GenerateSecretString keys that GetRandomPassword takes.
_RANDOM_PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


class UnsupportedResource(Exception):
    """The template uses a resource type localcloud has no creator for."""


class Provisioner:
    def __init__(self, template: Template, clients: AwsClients) -> None:
        self.template = template
        self.clients = clients
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
            "AWS::Cognito::UserPoolGroup": self._user_pool_group,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::SES::EmailIdentity": self._email_identity,
            "AWS::SNS::Topic": self._topic,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::WAFv2::WebACL": self._web_acl,
            "AWS::WAFv2::WebACLAssociation": self._web_acl_association,
        }

    def create_all(self) -> None:
        self.template.register_function_identities()
        pending = [
            (logical_id, resource)
            for logical_id, resource in self.template.resources.items()
            if resource["Type"] not in _NOTHING_TO_CREATE and self._wanted(resource)
        ]
        unsupported = sorted({r["Type"] for _, r in pending if r["Type"] not in self._creators})
        if unsupported:
            raise UnsupportedResource(f"localcloud can't create resource types {unsupported}")
        while pending:
            waiting: list[tuple[str, dict[str, Any]]] = []
            for logical_id, resource in pending:
                try:
                    properties = self.template.resolve(resource.get("Properties", {}))
                except Unresolved:
                    waiting.append((logical_id, resource))
                    continue
                self._creators[resource["Type"]](logical_id, properties)
                log.debug("created %s (%s)", logical_id, resource["Type"])
            if len(waiting) == len(pending):
                names = [logical_id for logical_id, _ in waiting]
                raise Unresolved(f"circular or missing references among {names}")
            pending = waiting

    def _wanted(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.template.condition(condition)

    def _set(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.template.refs[logical_id] = ref
        for name, value in attributes.items():
            self.template.attributes[(logical_id, name)] = value

    # ------------------------------------------------------------------ creators
    def _table(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("TableName", logical_id)
        create_table(self.clients.dynamodb, name, properties)
        described = self.clients.dynamodb.describe_table(TableName=name)["Table"]
        attributes = {"Arn": described["TableArn"]}
        if "LatestStreamArn" in described:
            attributes["StreamArn"] = described["LatestStreamArn"]
        self._set(logical_id, name, **attributes)

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("QueueName", logical_id)
        attributes: dict[Any, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in properties:
                attributes[key] = (
                    str(properties[key]).lower()
                    if isinstance(properties[key], bool)
                    else str(properties[key])
                )
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        url = self.clients.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        self._set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _queue_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        for url in properties["Queues"]:
            self.clients.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )
        self._set(logical_id, logical_id)

    def _event_bus(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties["Name"]
        arn = self.clients.events.create_event_bus(Name=name)["EventBusArn"]
        self._set(logical_id, name, Arn=arn, Name=name)

    def _rule(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("Name", logical_id)
        bus = properties.get("EventBusName", "default")
        # a pattern, or a schedule (fired by localcloud.events.scheduler), or both
        matching: dict[str, Any] = {}
        if "EventPattern" in properties:
            matching["EventPattern"] = json.dumps(properties["EventPattern"])
        if "ScheduleExpression" in properties:
            matching["ScheduleExpression"] = properties["ScheduleExpression"]
        arn = self.clients.events.put_rule(
            Name=name, EventBusName=bus, State=properties.get("State", "ENABLED"), **matching
        )["RuleArn"]
        targets: list[Any] = [
            {key: target[key] for key in ("Id", "Arn", "Input", "InputPath") if key in target}
            for target in properties.get("Targets", [])
        ]
        if targets:
            self.clients.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self._set(logical_id, name, Arn=arn)

    def _schedule(self, logical_id: str, properties: dict[str, Any]) -> None:
        """An EventBridge Scheduler schedule (SAM ScheduleV2), kept by moto; localcloud's
        events.scheduler fires it."""
        name = properties.get("Name", logical_id)
        kwargs: dict[str, Any] = {
            key: properties[key]
            for key in (
                "ScheduleExpression",
                "ScheduleExpressionTimezone",
                "Description",
                "State",
                "GroupName",
            )
            if key in properties
        }
        target = {
            key: properties["Target"][key]
            for key in ("Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig")
            if key in properties["Target"]
        }
        arn = self.clients.client("scheduler").create_schedule(
            Name=name,
            FlexibleTimeWindow=properties.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            Target=target,
            **kwargs,
        )["ScheduleArn"]
        self._set(logical_id, name, Arn=arn)

    def _user_pool(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("UserPoolName", logical_id)
        kwargs: dict[str, Any] = {"PoolName": name}
        for key in (
            "Policies",
            "AutoVerifiedAttributes",
            "UsernameAttributes",
            "Schema",
            "LambdaConfig",  # its PreTokenGeneration runs: localcloud.cognito.triggers
        ):
            if key in properties:
                kwargs[key] = properties[key]
        pool = self.clients.cognito.create_user_pool(**kwargs)["UserPool"]
        if "MfaConfiguration" in properties:  # as CloudFormation does, after CreateUserPool
            self.clients.cognito.set_user_pool_mfa_config(
                UserPoolId=pool["Id"],
                SoftwareTokenMfaConfiguration={
                    "Enabled": "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", [])
                },
                MfaConfiguration=properties["MfaConfiguration"],
            )
        self._set(
            logical_id,
            pool["Id"],
            Arn=pool["Arn"],
            ProviderName=f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
            ProviderURL=f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
        )

    def _user_pool_client(self, logical_id: str, properties: dict[str, Any]) -> None:
        client = self.clients.cognito.create_user_pool_client(
            UserPoolId=properties["UserPoolId"],
            ClientName=properties.get("ClientName", logical_id),
            GenerateSecret=bool(properties.get("GenerateSecret", False)),
            ExplicitAuthFlows=properties.get("ExplicitAuthFlows", []),
            ReadAttributes=properties.get("ReadAttributes", []),
            WriteAttributes=properties.get("WriteAttributes", []),
            **{key: properties[key] for key in _USER_POOL_CLIENT_SETTINGS if key in properties},
        )["UserPoolClient"]
        self._set(logical_id, client["ClientId"])

    def _user_pool_group(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.clients.cognito.create_group(
            GroupName=properties["GroupName"],
            UserPoolId=properties["UserPoolId"],
            Description=properties.get("Description", ""),
        )
        self._set(logical_id, properties["GroupName"])

    def _state_machine(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("StateMachineName", logical_id)
        source = self.template.resources[logical_id]["Properties"]
        definition = self.template.state_machine_definition(source)
        arn = self.clients.stepfunctions.create_state_machine(
            name=name,
            definition=definition,
            roleArn=properties["RoleArn"],
            type=properties.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        self._set(logical_id, arn, Arn=arn, Name=name)

    def _secret(self, logical_id: str, properties: dict[str, Any]) -> None:
        """Without SecretString the secret is created empty (no version), as CloudFormation does:
        reading it fails until someone puts a value."""
        name = properties.get("Name", logical_id)
        kwargs: dict[str, Any] = {"Name": name}
        for key in ("Description", "SecretString", "KmsKeyId"):
            if key in properties:
                kwargs[key] = properties[key]
        if "GenerateSecretString" in properties:
            kwargs["SecretString"] = self._generated_secret(properties["GenerateSecretString"])
        arn = self.clients.secretsmanager.create_secret(**kwargs)["ARN"]
        self._set(logical_id, arn, Id=arn)

    def _generated_secret(self, spec: dict[str, Any]) -> str:
        """GenerateSecretString as CloudFormation does it: Secrets Manager's GetRandomPassword,
        alone or under GenerateStringKey in SecretStringTemplate's JSON."""
        options = {key: spec[key] for key in _RANDOM_PASSWORD_OPTIONS if key in spec}
        password = self.clients.secretsmanager.get_random_password(**options)["RandomPassword"]
        if "GenerateStringKey" not in spec:
            return password
        document = json.loads(spec.get("SecretStringTemplate", "{}"))
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)

    def _ssm_parameter(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("Name", f"/{self.template.stack_name}/{logical_id}")
        self.clients.ssm.put_parameter(
            Name=name, Value=properties["Value"], Type=properties.get("Type", "String")
        )
        self._set(logical_id, name)

    def _email_identity(self, logical_id: str, properties: dict[str, Any]) -> None:
        identity = properties["EmailIdentity"]
        self.clients.ses.verify_email_identity(EmailAddress=identity)
        self._set(logical_id, identity)

    def _topic(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.get("TopicName", logical_id)
        attributes = {
            key: str(properties[key])
            for key in ("DisplayName", "KmsMasterKeyId", "FifoTopic")
            if key in properties
        }
        arn = self.clients.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self._set(logical_id, arn, TopicArn=arn, TopicName=name)

    def _subscription(self, logical_id: str, properties: dict[str, Any]) -> None:
        """Subscribed in moto, which keeps it for the topic's deliveries."""
        kwargs: dict[str, Any] = {
            "TopicArn": properties["TopicArn"],
            "Protocol": properties["Protocol"],
            "Endpoint": properties["Endpoint"],
            "ReturnSubscriptionArn": True,
        }
        if "FilterPolicy" in properties:
            kwargs["Attributes"] = {"FilterPolicy": json.dumps(properties["FilterPolicy"])}
        arn = self.clients.client("sns").subscribe(**kwargs)["SubscriptionArn"]
        self._set(logical_id, arn)

    def _log_group(self, logical_id: str, properties: dict[str, Any]) -> None:
        """An unnamed group gets a generated name, as CloudFormation gives <stack>-<id>-<suffix>."""
        name = properties.get("LogGroupName", f"{self.template.stack_name}-{logical_id}")
        logs = self.clients.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in properties:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(properties["RetentionInDays"])
            )
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"
        self._set(logical_id, name, Arn=arn)

    def _kms_key(self, logical_id: str, properties: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {
            "Policy": json.dumps(properties["KeyPolicy"]),
            "KeyUsage": properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
        }
        if "Description" in properties:
            kwargs["Description"] = properties["Description"]
        kms = self.clients.client("kms")
        key = kms.create_key(**kwargs)["KeyMetadata"]
        if properties.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        self._set(logical_id, key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])

    def _kms_alias(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties["AliasName"]
        self.clients.client("kms").create_alias(
            AliasName=name, TargetKeyId=properties["TargetKeyId"]
        )
        self._set(logical_id, name)

    def _web_acl(self, logical_id: str, properties: dict[str, Any]) -> None:
        """Kept in moto's wafv2 (what the WAF API shows); localcloud.waf evaluates it, read
        from the template, in front of the stage it is associated with."""
        WebAcl.from_properties(properties)  # a rule localcloud can't evaluate fails here
        wafv2 = self.clients.client("wafv2")
        summary = wafv2.create_web_acl(**create_web_acl_request(properties))["Summary"]
        ref = f"{summary['Name']}|{summary['Id']}|{properties['Scope']}"  # Ref, as CFN gives it
        self._set(logical_id, ref, Arn=summary["ARN"], Id=summary["Id"])

    def _web_acl_association(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.clients.client("wafv2").associate_web_acl(
            WebACLArn=properties["WebACLArn"], ResourceArn=properties["ResourceArn"]
        )
        self._set(logical_id, f"{properties['ResourceArn']}|{properties['WebACLArn']}")

    def _dashboard(self, logical_id: str, properties: dict[str, Any]) -> None:
        """Kept in moto (put_dashboard validates the body is JSON); nothing renders it here."""
        name = properties.get("DashboardName", f"{self.template.stack_name}-{logical_id}")
        body = properties["DashboardBody"]
        json.loads(body)
        self.clients.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        self._set(logical_id, name)

    def _alarm(self, logical_id: str, properties: dict[str, Any]) -> None:
        """The alarm as CloudWatch would hold it (moto keeps it; it does not evaluate metrics)."""
        name = properties.get("AlarmName", f"{self.template.stack_name}-{logical_id}")
        alarm: dict[str, Any] = {"AlarmName": name}
        for key in (
            "AlarmDescription",
            "MetricName",
            "Namespace",
            "Statistic",
            "ExtendedStatistic",
            "Unit",
            "ComparisonOperator",
            "TreatMissingData",
            "EvaluateLowSampleCountPercentile",
            "ThresholdMetricId",
        ):
            if key in properties:
                alarm[key] = str(properties[key])
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in properties:
                alarm[key] = int(properties[key])
        if "Threshold" in properties:
            alarm["Threshold"] = float(properties["Threshold"])
        if "ActionsEnabled" in properties:
            alarm["ActionsEnabled"] = str(properties["ActionsEnabled"]).lower() == "true"
        for key in (
            "Dimensions",
            "AlarmActions",
            "OKActions",
            "InsufficientDataActions",
            "Metrics",
        ):
            if key in properties:
                alarm[key] = properties[key]
        self.clients.client("cloudwatch").put_metric_alarm(**alarm)
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"
        self._set(logical_id, name, Arn=arn)
