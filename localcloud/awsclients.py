"""boto3 clients bound to localcloud's AWS endpoint (moto)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from localcloud.endpoint.inprocess import answer_in_process
from localcloud.endpoint.json_protocol import JsonApi
from localcloud.spec import REGION

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# localcloud's admin identity (provisioning, the test harness, the CLI): IAM lets it do
# anything (localcloud.iam). These never leave 127.0.0.1.
LOCAL_CREDENTIALS = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}


@dataclass
class AwsClients:
    endpoint_url: str
    # boto3 credential arguments of another identity (a role's); the admin's by default.
    credentials: Mapping[str, str] | None = None
    # localcloud's own clients: answered inside this process when it serves the endpoint
    # (localcloud.endpoint.inprocess); the harness's and the CLI's go over HTTP.
    in_process: bool = False
    # Services served at another URL than `endpoint_url` (endpoint prefix -> URL), as
    # botocore's AWS_ENDPOINT_URL_<SERVICE> sets them: DynamoDB's own process
    # (localcloud.dynamodb.process).
    service_urls: Mapping[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _json_apis: dict[str, JsonApi] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def _session(self) -> boto3.session.Session:
        # One session per AwsClients: its loader parses botocore's service models once, not
        # once per client (a new session per client made provisioning ~0.6 s per resource).
        return boto3.session.Session()

    def client(self, service: str) -> Any:
        with self._lock:  # a boto3 session makes one client at a time safely
            client = self._session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.url_of(service),
                region_name=REGION,
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                **(self.credentials or LOCAL_CREDENTIALS),
            )
        return answer_in_process(client) if self.in_process else client

    def url_of(self, service: str) -> str:
        return self.service_urls.get(service, self.endpoint_url)

    def json_api(self, service: str) -> JsonApi:
        """A JSON-protocol service without botocore's client side, for localcloud's own hot
        loops (the event source pollers): see localcloud.endpoint.json_protocol."""
        with self._lock:
            api = self._json_apis.get(service)
        if api is None:
            metadata = self.client(service).meta.service_model.metadata
            credentials = self.credentials or LOCAL_CREDENTIALS
            api = JsonApi(self.url_of(service), metadata, credentials)
            with self._lock:
                api = self._json_apis.setdefault(service, api)
        return api

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")

    @cached_property
    def streams(self) -> DynamoDBStreamsClient:
        return self.client("dynamodbstreams")

    @cached_property
    def sqs(self) -> SQSClient:
        return self.client("sqs")

    @cached_property
    def events(self) -> EventBridgeClient:
        return self.client("events")

    @cached_property
    def cognito(self) -> CognitoIdentityProviderClient:
        return self.client("cognito-idp")

    @cached_property
    def stepfunctions(self) -> SFNClient:
        return self.client("stepfunctions")

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self.client("secretsmanager")

    @cached_property
    def ssm(self) -> SSMClient:
        return self.client("ssm")

    @cached_property
    def ses(self) -> SESClient:
        return self.client("ses")
