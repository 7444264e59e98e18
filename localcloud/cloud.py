"""LocalCloud: the whole template on one machine, started in one call."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud import jsonpath_cache
from localcloud.apigateway.gateway import ApiGateway
from localcloud.awsclients import LOCAL_CREDENTIALS, AwsClients
from localcloud.billing.meter import Meter
from localcloud.cloudformation.provision import Provisioner
from localcloud.cloudformation.template import Template
from localcloud.cloudwatch.service import CloudWatch
from localcloud.cognito import auth_flows as cognito_auth_flows
from localcloud.cognito import triggers as cognito_triggers
from localcloud.cognito.tokens import CognitoVerifier, create_token_client
from localcloud.console.data import ConsoleData
from localcloud.console.routes import ConsoleRoutes
from localcloud.dynamodb import patches as dynamodb_patches
from localcloud.dynamodb import process as dynamodb_process
from localcloud.dynamodb import streams as dynamodb_streams
from localcloud.endpoint.proxy import ForwardingApp
from localcloud.endpoint.server import AwsEndpoint, sent_emails
from localcloud.events import patterns as event_patterns
from localcloud.events.scheduler import Scheduler
from localcloud.eventsources.pollers import EventSources
from localcloud.faults.rules import FaultRegistry, FaultRule
from localcloud.iam.account import IamAccount
from localcloud.lambda_.concurrency import ConcurrencySettings, TooManyRequestsException
from localcloud.lambda_.runtime import EdgeInvoker, LambdaRuntime
from localcloud.logs import journal as logs_journal
from localcloud.logs.feed import quiet_moto
from localcloud.logs.logbook import LogBook
from localcloud.logs.views import LogViews
from localcloud.sns.delivery import SnsDelivery
from localcloud.spec import REGION, ApiSpec, FunctionSpec
from localcloud.sqs import retention as sqs_retention
from localcloud.stepfunctions import patches as stepfunctions_patches
from localcloud.stepfunctions import tracing as stepfunctions_tracing
from localcloud.stepfunctions.express import StepFunctionsSettings
from localcloud.waf.acl import WebAcl
from localcloud.waf.metrics import WafMetrics
from localcloud.waf.stage import StageWebAcl
from localcloud.xray import filters as xray_filters
from localcloud.xray.daemon import XRayDaemon
from localcloud.xray.platform import ApiTracer, LambdaTracer, active_functions, traced_stages
from localcloud.xray.views import TraceViews

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from localcloud.payment_provider.simulator import PaymentProviderSimulator

log = logging.getLogger("localcloud")

# Template parameters localcloud fills in when the template declares them and they are not
# given: the payment provider is the simulator localcloud runs (its key, made up for this run,
# goes into the provider's secret after provisioning, as an operator puts it on AWS), and the
# sender and alert addresses are local ones (moto's SES and SNS keep what is sent there).
PROVIDER_URL_PARAMETER = "PaymentProviderBaseUrl"
PROVIDER_KEY_SECRET = "PaymentProviderApiKeySecret"
LOCAL_PARAMETERS = {
    "NotificationSenderEmail": "orders@shop.localcloud.test",
    "OperatorAlertEmail": "operator@shop.localcloud.test",
}


@dataclass
class LocalCloudSettings:
    template: Path = Path("template.yaml")
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 4566
    provider_port: int = 4567
    stack_name: str = "shop"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # The key to put into the provider's secret when PaymentProviderBaseUrl is given (a provider
    # localcloud does not run); None: the key of localcloud's own simulator.
    payment_provider_api_key: str | None = None
    fault_rules: list[FaultRule] = field(default_factory=list)
    faults_seed: int | None = None
    lambda_concurrency: ConcurrencySettings = field(default_factory=ConcurrencySettings)
    iam: bool = True  # enforce the template's roles and policies (localcloud.iam)
    # CloudWatch alarm periods are multiplied by this (tests: e.g. 0.05, a 60 s period in 3 s).
    alarm_period_scale: float = 1.0
    # AWS WAF rate-based rules' evaluation windows are multiplied by this (tests: 0.05, a 60 s
    # window in 3 s), so a blocked client's recovery is seen without waiting minutes.
    waf_window_scale: float = 1.0
    # Step Functions: the EXPRESS cap (AWS: 5 minutes); tests shorten it.
    step_functions: StepFunctionsSettings = field(default_factory=StepFunctionsSettings)
    # The X-Ray daemon's UDP port (AWS_XRAY_DAEMON_ADDRESS; 0: a free one, as tests use).
    xray_port: int = 2000
    # One file per function (<Function>.log); None: lines kept in memory only.
    logs_dir: Path | None = None


class LocalCloud:
    def __init__(self, settings: LocalCloudSettings) -> None:
        self.settings = settings
        self.started_at = time.monotonic()
        self.ready_after: float | None = None
        self.template: Template | None = None
        self.runtime: LambdaRuntime | None = None
        self.endpoint: AwsEndpoint | None = None
        self.gateways: list[ApiGateway] = []
        self.event_sources: EventSources | None = None
        self.scheduler: Scheduler | None = None
        self.provider: PaymentProviderSimulator | None = None
        self._simulator_key: str | None = None
        self.faults = FaultRegistry(settings.fault_rules, seed=settings.faults_seed)
        self.iam: IamAccount | None = None
        self.cloudwatch: CloudWatch | None = None
        self.token_clients: dict[str, str] = {}
        self.sns = SnsDelivery()
        self.xray: XRayDaemon | None = None
        self.logbook = LogBook(settings.logs_dir)
        self.meter = Meter()  # what the run would be billed for (/_localcloud/billing)
        # DynamoDB and its Streams in a process of their own (localcloud.dynamodb.process)
        self.dynamodb: dynamodb_process.DynamoDbProcess | None = None
        self.clients: AwsClients | None = None  # the admin's, as localcloud itself calls AWS
        self._dynamodb_forward: ForwardingApp | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        s = self.settings
        self.dynamodb = dynamodb_process.started(s.host)  # first: it imports while we do
        self.template = template = Template.load(s.template, s.parameter_overrides, s.stack_name)
        if PROVIDER_URL_PARAMETER in template.parameters:
            self._start_payment_provider(template)
        for name, value in LOCAL_PARAMETERS.items():
            if name in template.parameters and name not in s.parameter_overrides:
                template.parameters[name] = value
        missing = template.missing_parameters()
        if missing:  # CloudFormation's words, before anything is created
            raise ValueError(f"Parameters: {missing} must have values")

        _install_moto_patches(s.step_functions)
        self.sns.install()  # HTTP/HTTPS and email deliveries of moto's topics
        self.endpoint = AwsEndpoint(runtime=None, status=self.status, faults=self.faults)
        self.meter.configure(template)
        self.endpoint.meter = self.meter
        self.endpoint.serve(s.host, s.aws_port)
        self.clients = clients = self._serve_dynamodb(self.endpoint)
        self.sns.endpoint_url = self.endpoint.url  # SNS SubscribeURLs point here
        _enable_step_functions_execution(self.endpoint.url)
        self._start_observability(template, self.endpoint)
        self._start_console(clients)
        Provisioner(template, clients).create_all()
        self.token_clients = {  # the local-only client of each pool, for `localcloud token`
            pool: create_token_client(clients.cognito, template.ref(pool))
            for pool, _ in template.of_type("AWS::Cognito::UserPool")
        }
        self._put_provider_key(template, clients)
        self.cloudwatch = cloudwatch = CloudWatch(clients, period_scale=s.alarm_period_scale)
        functions = self._start_iam(template, self.endpoint)

        self.runtime = LambdaRuntime(
            functions, self.worker_environment(), concurrency=s.lambda_concurrency
        )
        self.runtime.faults = self.faults
        self.endpoint.runtime = self.runtime
        self.runtime.add_observer(cloudwatch.lambda_metrics)
        self._observe(self.runtime, template)
        self.runtime.add_observer(self.meter)
        cognito_triggers.install(self._invoke_cognito_trigger)  # LambdaConfig.PreTokenGeneration
        for index, api in enumerate(template.apis()):
            verifiers = {
                name: CognitoVerifier(
                    endpoint_url=self.endpoint.url,
                    region=REGION,
                    user_pool_id=template.ref(pool),
                    client_ids=[*self.pool_client_ids(pool), self.token_clients[pool]],
                )
                for name, pool in api.cognito_authorizers.items()
            }
            api_metrics = cloudwatch.api_metrics(_api_name(template, api.logical_id), api.stage)
            gateway = ApiGateway(
                api,
                EdgeInvoker(self.runtime),  # a client's new work waits behind the work inside
                verifiers,
                read_invoker=self.runtime,  # its reads start none: they queue with that work
                on_request=_both(api_metrics.request, self.meter),
                tracer=self._api_tracer(template, api),
                may_invalidate_cache=self._may_invalidate_cache,
                on_cache_lookup=api_metrics.cache_lookup,
            )
            gateway.web_acl = self._web_acl(template, api.logical_id, api.stage, cloudwatch)
            gateway.serve(s.host, s.api_port + index if s.api_port else 0)
            self.gateways.append(gateway)
        self.event_sources = EventSources(
            template, self.runtime, clients, clients_for=self._function_clients, faults=self.faults
        )
        self.event_sources.start()
        runtime = self.runtime
        self.scheduler = Scheduler(
            Scheduler.specs(template),
            invoke=runtime.invoke_async,
            allows=self.iam.allows if self.iam else None,
        ).start()
        cloudwatch.start()
        self.ready_after = time.monotonic() - self.started_at

    def _web_acl(
        self, template: Template, api_id: str, stage: str, cloudwatch: CloudWatch
    ) -> StageWebAcl | None:
        """AWS WAF in front of the stage, when the template associates a web ACL with it."""
        properties = _stage_web_acl(template, api_id, stage)
        if properties is None:
            return None
        acl = WebAcl.from_properties(properties, window_scale=self.settings.waf_window_scale)
        return StageWebAcl(acl, WafMetrics(cloudwatch.publisher, acl.metric_name))

    def _start_observability(self, template: Template, endpoint: AwsEndpoint) -> None:
        """X-Ray's daemon and the traces AWS records itself; logs, the bus's and SES's journal,
        and their JSON routes (/_localcloud/traces, /_localcloud/logs, .../orders/<id>/story)."""
        xray_filters.install()  # GetTraceSummaries' FilterExpression
        logs_journal.install()
        quiet_moto()  # its absent-JSONPath ERRORs (a Choice's IsPresent probe) to DEBUG
        self.xray = XRayDaemon(endpoint.url, self.settings.host, self.settings.xray_port)
        endpoint.local_routes += [
            TraceViews(endpoint.url),
            LogViews(self.logbook, endpoint.url, sent_emails),
        ]

    def _serve_dynamodb(self, endpoint: AwsEndpoint) -> AwsClients:
        """Point the endpoint's DynamoDB calls at DynamoDB's process, when it runs one; the
        admin's clients, which call it there directly."""
        if self.dynamodb is None:
            return AwsClients(endpoint.url, in_process=True)
        url = self.dynamodb.wait_ready()
        self._dynamodb_forward = forward = ForwardingApp(url)
        endpoint.forwarded = {service: forward for service in dynamodb_process.SERVICES}
        endpoint.remote_meters.append(url)
        self.faults.subscribe(self._dynamodb_faults)
        return AwsClients(
            endpoint.url,
            in_process=True,
            service_urls={service: url for service in dynamodb_process.SERVICES},
        )

    def _dynamodb_faults(self, rules: list[FaultRule]) -> None:
        """DynamoDB's process draws from the fault rules here while any applies to it."""
        assert self.dynamodb is not None
        assert self.endpoint is not None
        applies = any(rule.service in dynamodb_process.SERVICES for rule in rules)
        self.dynamodb.draw_faults_from(self.endpoint.url if applies else None)

    def _start_console(self, clients: AwsClients) -> None:
        """The console at /_console on the AWS endpoint (localcloud.console)."""
        assert self.endpoint is not None
        endpoint = self.endpoint
        data = ConsoleData(
            clients,
            resources=self.stack_resources,
            sent_emails=sent_emails,
            ledger=self.provider,
        )
        endpoint.local_routes.append(ConsoleRoutes(data))

    def _start_iam(self, template: Template, endpoint: AwsEndpoint) -> dict[str, FunctionSpec]:
        """From here on, every call but the admin's is IAM's to allow; the functions' specs with
        their roles."""
        functions = template.functions()
        if not self.settings.iam:  # moto is process-wide: drop what an earlier run installed
            IamAccount.uninstall_service_roles()
            return functions
        self.iam = IamAccount(template)
        self.iam.install_service_roles()
        endpoint.authorize = self.iam.authorizer.check
        if self.dynamodb is not None:
            self.dynamodb.use_roles(self.iam.roles)
        return self.iam.function_specs(functions)

    def _observe(self, runtime: LambdaRuntime, template: Template) -> None:
        """The functions' lines into the log book; Lambda's trace headers and segments; the
        traced state machines' segments (once provisioned: their ARNs are known)."""
        assert self.xray is not None
        runtime.add_observer(self.logbook)
        runtime.tracer = LambdaTracer(self.xray.emit, active_functions(template.resources))
        traced_machines = [
            template.ref(logical_id)
            for logical_id, properties in template.of_type("AWS::StepFunctions::StateMachine")
            if (properties.get("TracingConfiguration") or {}).get("Enabled")
        ]
        stepfunctions_tracing.install(self.xray.emit, traced_machines)

    def _api_tracer(self, template: Template, api: ApiSpec) -> ApiTracer | None:
        """X-Ray segments for the API's stage, when its TracingEnabled is on."""
        if self.xray is None or api.logical_id not in traced_stages(template.resources):
            return None
        api_name = _api_name(template, api.logical_id)
        return ApiTracer(self.xray.emit, api_name, api.logical_id, api.stage)

    def _start_payment_provider(self, template: Template) -> None:
        """The template talks to a payment provider: run the simulator and point it there."""
        from localcloud.payment_provider.simulator import PaymentProviderSimulator

        api_key = self._simulator_key = secrets.token_urlsafe(24)
        self.provider = PaymentProviderSimulator(api_key=api_key)
        self.provider.faults = self.faults
        self.provider.serve(self.settings.host, self.settings.provider_port)
        if PROVIDER_URL_PARAMETER not in self.settings.parameter_overrides:
            template.parameters[PROVIDER_URL_PARAMETER] = self.provider.base_url

    def _put_provider_key(self, template: Template, clients: AwsClients) -> None:
        """The step the runbook gives the operator: the provider's key into its (empty) secret."""
        if PROVIDER_KEY_SECRET not in template.refs:
            return
        given = self.settings.payment_provider_api_key
        key = given if given is not None else self._simulator_key
        if key is None:
            return
        clients.secretsmanager.put_secret_value(
            SecretId=template.ref(PROVIDER_KEY_SECRET), SecretString=key
        )

    def _invoke_cognito_trigger(self, function: str, payload: bytes) -> tuple[bytes, str | None]:
        """A user pool trigger's synchronous invocation, as Cognito makes it."""
        if self.runtime is None:
            raise RuntimeError("localcloud is starting")
        try:
            result = self.runtime.invoke(function, payload)
        except TooManyRequestsException as throttled:
            raise RuntimeError(throttled.error_type) from throttled
        return result.payload, result.function_error

    def stop(self) -> None:
        for closer in (
            *(g.close for g in self.gateways),
            self.event_sources.close if self.event_sources else None,
            self.scheduler.close if self.scheduler else None,
            functools.partial(cognito_triggers.uninstall, self._invoke_cognito_trigger),
            self.runtime.close if self.runtime else None,
            self.cloudwatch.close if self.cloudwatch else None,
            self.endpoint.close if self.endpoint else None,
            self.dynamodb.close if self.dynamodb else None,
            self.sns.uninstall,
            self.provider.close if self.provider else None,
            stepfunctions_tracing.uninstall,
            self.xray.close if self.xray else None,
            self.logbook.close,
        ):
            if closer is None:
                continue
            try:
                closer()
            except Exception:
                log.exception("while stopping localcloud")

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ facts
    @property
    def api_url(self) -> str:
        if not self.gateways:
            return ""  # a template without a REST API (events only)
        gateway = self.gateways[0]
        return f"http://{self.settings.host}:{gateway.port}/{gateway.api.stage}"

    @property
    def aws_url(self) -> str:
        assert self.endpoint is not None
        return self.endpoint.url

    @property
    def console_url(self) -> str:
        return f"{self.aws_url}/_console"

    def worker_environment(self) -> dict[str, str]:
        """What every function's process gets on top of the template's variables."""
        assert self.endpoint is not None
        assert self.clients is not None
        environment = worker_base_environment(
            self.endpoint.url, *([self.xray.address] if self.xray else [])
        )
        for service, url in self.clients.service_urls.items():
            # botocore's service-specific endpoint (AWS_ENDPOINT_URL_DYNAMODB_STREAMS, ...)
            environment[f"AWS_ENDPOINT_URL_{_SERVICE_ENV_NAMES[service]}"] = url
        return environment

    def _may_invalidate_cache(self, request: Request, method_arn: str) -> bool:
        """execute-api:InvalidateCache (a `Cache-Control: max-age=0` the stage cache obeys) for
        an IAM-signed request: localcloud's admin key always; a role's key, with its session
        token, when the role's policies allow it on the method. Unsigned callers never."""
        match = _SIGV4_ACCESS_KEY.match(request.headers.get("Authorization", ""))
        if match is None:
            return False
        if match.group(1) == LOCAL_CREDENTIALS["aws_access_key_id"]:
            return True
        role = self.iam.roles.by_access_key(match.group(1)) if self.iam else None
        token = request.headers.get("X-Amz-Security-Token")
        if self.iam is None or role is None or token != role.credentials.session_token:
            return False
        return self.iam.allows(role.arn, "execute-api:InvalidateCache", method_arn)

    def _function_clients(self, function: str) -> AwsClients:
        """Clients as the function's execution role (its event source mappings poll so)."""
        assert self.clients is not None
        if self.iam is None:
            return self.clients
        return self.iam.clients_for_function(self.clients, function)

    def pool_client_ids(self, pool_logical_id: str) -> list[str]:
        assert self.template is not None
        return [
            self.template.ref(logical_id)
            for logical_id, properties in self.template.of_type("AWS::Cognito::UserPoolClient")
            if properties.get("UserPoolId") == {"Ref": pool_logical_id}
        ]

    def user_pools(self) -> list[dict[str, Any]]:
        assert self.template is not None
        return [
            {
                "logicalId": logical_id,
                "id": self.template.ref(logical_id),
                "clientIds": self.pool_client_ids(logical_id),
                "tokenClientId": self.token_clients[logical_id],
            }
            for logical_id, _ in self.template.of_type("AWS::Cognito::UserPool")
        ]

    def status(self) -> dict[str, Any]:
        ready = self.ready_after is not None
        body: dict[str, Any] = {"ready": ready}
        if not ready:
            return body
        assert self.runtime is not None
        assert self.event_sources is not None
        assert self.template is not None
        body.update(
            {
                "startedInSeconds": round(self.ready_after or 0, 3),
                "pid": os.getpid(),  # benchmarks add up the CPU of it and its workers
                "apiUrl": self.api_url,
                "awsUrl": self.aws_url,
                "paymentProviderUrl": self.provider.base_url if self.provider else None,
                "xrayDaemonAddress": self.xray.address if self.xray else None,
                "userPools": self.user_pools(),
                "functions": self.runtime.stats(),
                "lambdaConcurrency": self.runtime.concurrency_stats(),
                "environments": {
                    name: spec.environment for name, spec in self.template.functions().items()
                },
                "eventSources": self.event_sources.status(),
                "schedules": self.scheduler.status() if self.scheduler else {},
                "iam": self._iam_status(),
                "dynamodbProcess": self._dynamodb_status(),
                "cloudwatch": self.cloudwatch.status() if self.cloudwatch else None,
                "resources": self.stack_resources(),
            }
        )
        return body

    def _dynamodb_status(self) -> dict[str, Any] | None:
        if self.dynamodb is None or self._dynamodb_forward is None:
            return None
        return {
            "pid": self.dynamodb.pid,
            "url": self.dynamodb.url,
            # requests that reached it through the AWS endpoint (not from the functions' SDKs)
            "forwardedRequests": self._dynamodb_forward.requests,
        }

    def _iam_status(self) -> dict[str, int] | None:
        """IAM's counts, with the refusals of DynamoDB's process."""
        if self.iam is None:
            return None
        status = self.iam.status()
        if self.dynamodb is not None:
            status["refusals"] += read_status(self.dynamodb.url)["iamRefusals"]
        return status

    def stack_resources(self) -> dict[str, dict[str, Any]]:
        """What CloudFormation's ListStackResources tells of a stack (logical id -> type and
        physical id) for every resource localcloud created, plus each event source mapping's
        on-failure destination (what Lambda's GetEventSourceMapping tells): the operator tools
        find tables, queues and state machines here as they do in a stack on AWS."""
        assert self.template is not None
        template = self.template
        resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in template.resources.items():
            entry: dict[str, Any] = {"type": resource["Type"]}
            if logical_id in template.refs:
                entry["physicalId"] = template.refs[logical_id]
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                config = (resource.get("Properties") or {}).get("DestinationConfig")
                if config:
                    entry["destinationConfig"] = template.resolve(config)
            if len(entry) > 1:
                resources[logical_id] = entry
        return resources


def _stage_web_acl(template: Template, api_id: str, stage: str) -> dict[str, Any] | None:
    """The resolved properties of the web ACL the template associates with the API's stage."""
    stage_arn = f"arn:aws:apigateway:{REGION}::/restapis/{template.ref(api_id)}/stages/{stage}"
    for _, association in template.of_type("AWS::WAFv2::WebACLAssociation"):
        if template.resolve(association["ResourceArn"]) != stage_arn:
            continue
        acl_arn = template.resolve(association["WebACLArn"])
        for logical_id, properties in template.of_type("AWS::WAFv2::WebACL"):
            if template.attributes.get((logical_id, "Arn")) == acl_arn:
                resolved: dict[str, Any] = template.resolve(properties)
                return resolved
    return None


# botocore's name for a service in AWS_ENDPOINT_URL_<NAME> (its service id, upper snake case)
_SERVICE_ENV_NAMES = {"dynamodb": "DYNAMODB", "dynamodbstreams": "DYNAMODB_STREAMS"}

_SIGV4_ACCESS_KEY = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)/")


def _both(metrics: Callable[[int, float], None], meter: Meter) -> Callable[[int, float], None]:
    """The gateway's one request callback, told to CloudWatch's metrics and the meter."""

    def on_request(status: int, latency_ms: float) -> None:
        metrics(status, latency_ms)
        meter.api_request(status, latency_ms)

    return on_request


def _api_name(template: Template, logical_id: str) -> str:
    """The RestApi's name (AWS/ApiGateway's ApiName): its Name, else its definition's title."""
    properties = template.resources[logical_id].get("Properties", {})
    name = properties.get("Name") or properties.get("Body", {}).get("info", {}).get("title")
    return str(template.resolve(name)) if name else logical_id


def worker_base_environment(
    endpoint_url: str, xray_daemon_address: str = "127.0.0.1:2000"
) -> dict[str, str]:
    """What every function's process gets on top of the template's variables, with localcloud's
    AWS endpoint at `endpoint_url` (also what bench.cold_start gives the functions it times)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "localcloud",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address,
        # The one explicit sign a function runs here, not on AWS: payments accept the
        # provider simulator's plain http only with it (payments.settings).
        "SHOP_LOCALCLOUD": "true",
    }


def _install_moto_patches(step_functions: StepFunctionsSettings) -> None:
    """What localcloud changes in moto's services (each install is idempotent: moto is
    process-wide). DynamoDB's are installed here too, for LOCALCLOUD_DYNAMODB_PROCESS=0."""
    event_patterns.install()  # PutRule refuses what EventBridge refuses
    dynamodb_patches.install()  # transactions, Query on a partition, items on the wire
    dynamodb_streams.install()  # GetRecords without moto's model-driven serializer
    cognito_auth_flows.install()  # a client's ExplicitAuthFlows, PreventUserExistenceErrors
    sqs_retention.install()  # ReceiveMessage without the queue's attributes per message
    stepfunctions_patches.install(step_functions)  # EXPRESS, Lambda task errors
    jsonpath_cache.install()  # EventBridge and Step Functions compile a path once


def _enable_step_functions_execution(endpoint_url: str) -> None:
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def read_status(aws_url: str, timeout: float = 5.0) -> Mapping[str, Any]:
    """The status of a running localcloud, from its AWS endpoint."""
    with urllib.request.urlopen(f"{aws_url}/_localcloud/status", timeout=timeout) as response:
        status: dict[str, Any] = json.loads(response.read())
        return status
