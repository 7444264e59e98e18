"""template.yaml -> CloudFormation (aws-sam-translator) -> resolved parts localcloud can run.

There is one source of truth, the template: every table, queue, route and function localcloud
creates is read from here. Local paths (CodeUri, ContentUri, DefinitionUri) are swapped for
`s3://localcloud/<path>` before translating, as `sam package` would upload them, and mapped
back afterwards.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from localcloud.spec import (
    ACCOUNT_ID,
    REGION,
    ApiRoute,
    ApiSpec,
    FunctionSpec,
    GatewayResponse,
    MethodCacheSetting,
    MockIntegration,
)

LOCAL_BUCKET = "localcloud"
_LOCAL_URI_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
_INTEGRATION_FUNCTION = re.compile(r"\$\{(\w+)\.Arn\}")


class Unresolved(LookupError):
    """An intrinsic refers to something not created yet (or never)."""


class _NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only for `Policies: [Name]` strings."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass
class Template:
    """The translated template plus what localcloud has learnt of its physical resources."""

    root: Path
    resources: dict[str, dict[str, Any]]
    parameters: dict[str, str]
    conditions: dict[str, Any]
    stack_name: str
    required_parameters: frozenset[str] = frozenset()  # declared without a Default
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        path: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        stack_name: str = "shop",
    ) -> Template:
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        raw = yaml_parse(path.read_text())
        for resource in raw.get("Resources", {}).values():
            properties = resource.get("Properties") or {}
            for key in _LOCAL_URI_PROPERTIES:
                if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                    properties[key] = f"s3://{LOCAL_BUCKET}/{properties[key]}"
        translated = transform(raw, dict(parameter_overrides or {}), _NoManagedPolicies())
        declared = translated.get("Parameters", {})
        unknown = set(parameter_overrides or {}) - set(declared)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        parameters = {
            name: str((parameter_overrides or {}).get(name, spec.get("Default", "")))
            for name, spec in declared.items()
        }
        return cls(
            root=path.resolve().parent,
            resources=translated["Resources"],
            parameters=parameters,
            conditions=translated.get("Conditions", {}),
            stack_name=stack_name,
            required_parameters=frozenset(
                name for name, spec in declared.items() if "Default" not in spec
            ),
        )

    def missing_parameters(self) -> list[str]:
        """Parameters without a Default that have no value: CloudFormation refuses the stack."""
        return sorted(name for name in self.required_parameters if not self.parameters.get(name))

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource.get("Properties", {})

    def local_path(self, location: Mapping[str, Any] | str) -> Path:
        """The local folder or file behind a translated S3 location."""
        if isinstance(location, str):
            key = location.removeprefix(f"s3://{LOCAL_BUCKET}/")
        else:
            key = location.get("S3Key") or location.get("Key") or ""
        return (self.root / key).resolve()

    # ------------------------------------------------------------------ intrinsics
    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name not in values:
            raise Unresolved(name)
        return values[name]

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.refs:
            return self.refs[name]
        raise Unresolved(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise Unresolved(f"{logical_id}.{attribute}") from None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in `value`; raises Unresolved when it can't yet."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            intrinsic = self._intrinsics().get(key)
            if intrinsic is not None:
                return intrinsic(argument)
        return {k: self.resolve(v) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.ref,
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": lambda a: str(self.resolve(a[0])).join(str(x) for x in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(str(self.resolve(a[0]))),
            "Fn::If": lambda a: self.resolve(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Equals": lambda a: self.resolve(a[0]) == self.resolve(a[1]),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
            "Condition": self.condition,
        }

    def _fn_get_att(self, argument: Any) -> str:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.get_att(logical_id, str(self.resolve(attribute)))

    def _fn_sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {k: self.resolve(v) for k, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return _SUB_VARIABLE.sub(substitute, text)

    # ------------------------------------------------------------------ functions
    def register_function_identities(self) -> None:
        """Functions, layers and roles have names localcloud decides: known before creating."""
        for logical_id, _ in self.of_type("AWS::Lambda::Function"):
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"
            self.refs[logical_id] = logical_id
            self.attributes[(logical_id, "Arn")] = arn
        for logical_id, _ in self.of_type("AWS::Lambda::LayerVersion"):
            self.refs[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{logical_id}:1"
        for logical_id, _ in self.of_type("AWS::IAM::Role"):
            self.refs[logical_id] = logical_id
            self.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}"
        for logical_id, _ in self.of_type("AWS::ApiGateway::RestApi"):
            self.refs[logical_id] = logical_id.lower()
        for logical_id, properties in self.of_type("AWS::ApiGateway::Stage"):
            self.refs[logical_id] = str(properties["StageName"])  # Ref: the stage's name

    def layer_dirs(self) -> dict[str, Path]:
        """Layer ARN -> local folder (the layer's ContentUri, like /opt/python)."""
        layers = {}
        for logical_id, properties in self.of_type("AWS::Lambda::LayerVersion"):
            layers[self.ref(logical_id)] = self.local_path(properties["Content"])
        return layers

    def functions(self) -> dict[str, FunctionSpec]:
        layers = self.layer_dirs()
        specs = {}
        for logical_id, properties in self.of_type("AWS::Lambda::Function"):
            variables = self.resolve(properties.get("Environment", {}).get("Variables", {}))
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=properties["Handler"],
                code_dir=self.local_path(properties["Code"]),
                layer_dirs=tuple(layers[arn] for arn in self.resolve(properties.get("Layers", []))),
                timeout_seconds=int(properties.get("Timeout", 3)),
                memory_mb=int(properties.get("MemorySize", 128)),
                environment={k: str(v) for k, v in variables.items()},
                runtime=str(properties["Runtime"]),
                reserved_concurrency=_reserved_concurrency(self, properties),
            )
        return specs

    # ------------------------------------------------------------------ the REST API
    def apis(self) -> list[ApiSpec]:
        stages = {
            self.resolve(props["RestApiId"]): props
            for _, props in self.of_type("AWS::ApiGateway::Stage")
        }
        apis = []
        for logical_id, properties in self.of_type("AWS::ApiGateway::RestApi"):
            body = properties.get("Body", {})
            stage = stages.get(self.ref(logical_id), {})
            apis.append(
                ApiSpec(
                    logical_id=logical_id,
                    stage=stage.get("StageName", "Prod"),
                    routes=tuple(_routes(body)),
                    cognito_authorizers=_cognito_authorizers(body),
                    throttle_rate=_throttle(self, stage, "ThrottlingRateLimit", float),
                    throttle_burst=_throttle(self, stage, "ThrottlingBurstLimit", int),
                    gateway_responses=_gateway_responses(body, self.resolve),
                    mocks=tuple(_mocks(body, self.resolve)),
                    cache_cluster_enabled=_true(self.resolve(stage.get("CacheClusterEnabled"))),
                    cache_settings=tuple(_cache_settings(self, stage)),
                )
            )
        return apis

    # ------------------------------------------------------------------ state machines
    def state_machine_definition(self, properties: Mapping[str, Any]) -> str:
        """The ASL text with DefinitionSubstitutions applied, as CloudFormation does."""
        if "DefinitionS3Location" in properties:
            text = self.local_path(properties["DefinitionS3Location"]).read_text()
        elif "DefinitionString" in properties:
            text = str(self.resolve(properties["DefinitionString"]))
        else:
            text = json.dumps(self.resolve(properties["Definition"]))
        substitutions = self.resolve(properties.get("DefinitionSubstitutions", {}))
        for name, value in substitutions.items():
            text = text.replace("${" + name + "}", str(value))
        json.loads(text)  # fail here, not in Step Functions, on a broken definition
        return text


def _routes(body: Mapping[str, Any]) -> Iterator[ApiRoute]:
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            uri = integration.get("uri", {})
            uri_text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
            match = _INTEGRATION_FUNCTION.search(str(uri_text))
            if not match:
                continue
            security = [name for entry in operation.get("security", []) for name in entry]
            authorizer = next((name for name in security if name != "NONE"), None)
            yield ApiRoute(
                function=match.group(1),
                method=method.upper(),
                path=path,
                authorizer=authorizer,
                cache_key_parameters=tuple(integration.get("cacheKeyParameters", [])),
            )


def _cognito_authorizers(body: Mapping[str, Any]) -> dict[str, str]:
    authorizers = {}
    for name, definition in body.get("securityDefinitions", {}).items():
        authorizer = definition.get("x-amazon-apigateway-authorizer", {})
        if authorizer.get("type") != "cognito_user_pools":
            continue
        (provider,) = authorizer["providerARNs"]
        authorizers[name] = provider["Fn::GetAtt"][0]
    return authorizers


def _gateway_responses(
    body: Mapping[str, Any], resolve: Callable[[Any], Any]
) -> dict[str, GatewayResponse]:
    responses = {}
    for name, definition in body.get("x-amazon-apigateway-gateway-responses", {}).items():
        status = definition.get("statusCode")
        responses[name] = GatewayResponse(
            status_code=int(status) if status is not None else None,
            template=definition.get("responseTemplates", {}).get("application/json"),
            headers=_static_headers(
                resolve(definition.get("responseParameters", {})), "gatewayresponse.header."
            ),
        )
    return responses


def _mocks(body: Mapping[str, Any], resolve: Callable[[Any], Any]) -> Iterator[MockIntegration]:
    """Each method whose integration is MOCK (SAM's CORS preflight): its default response."""
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            if not isinstance(integration, dict) or integration.get("type") != "mock":
                continue
            default = integration.get("responses", {}).get("default", {})
            yield MockIntegration(
                method=method.upper(),
                path=path,
                status=int(default.get("statusCode", 200)),
                headers=_static_headers(
                    resolve(default.get("responseParameters", {})), "method.response.header."
                ),
                body=default.get("responseTemplates", {}).get("application/json", ""),
            )


def _static_headers(parameters: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """The headers a mapping sets to a static value (`'value'`, in single quotes)."""
    headers = {}
    for target, value in parameters.items():
        text = str(value)
        if target.startswith(prefix) and len(text) >= 2 and text[0] == text[-1] == "'":
            headers[target.removeprefix(prefix)] = text[1:-1]
    return headers


def _throttle(
    template: Template, stage: Mapping[str, Any], key: str, cast: Callable[[Any], Any]
) -> Any:
    for setting in stage.get("MethodSettings", []):
        if setting.get("ResourcePath") in ("/*", "/*/*") and key in setting:
            return cast(template.resolve(setting[key]))
    return None


def _cache_settings(template: Template, stage: Mapping[str, Any]) -> Iterator[MethodCacheSetting]:
    """The cache fields of the stage's MethodSettings; ResourcePath's "~1" is "/"."""
    for raw in stage.get("MethodSettings", []):
        setting = template.resolve(raw)
        ttl = setting.get("CacheTtlInSeconds")
        yield MethodCacheSetting(
            resource_path=_decoded_resource_path(str(setting.get("ResourcePath", "/*"))),
            http_method=str(setting.get("HttpMethod", "*")).upper(),
            caching_enabled=_optional_bool(setting.get("CachingEnabled")),
            ttl_seconds=None if ttl is None else int(ttl),
            require_authorization=_optional_bool(
                setting.get("RequireAuthorizationForCacheControl")
            ),
            unauthorized_strategy=setting.get("UnauthorizedCacheControlHeaderStrategy"),
        )


def _decoded_resource_path(path: str) -> str:
    """MethodSettings' ResourcePath: "/" then the path with "/" written "~1" ("/~1products~1{sku}"
    is /products/{sku}); "/*" (every resource) and "/" (the root) as they are."""
    if path in ("/*", "/"):
        return path
    return path.removeprefix("/").replace("~1", "/").replace("~0", "~")


def _true(value: Any) -> bool:
    """A CloudFormation Boolean: true or "true" (any case)."""
    return str(value).lower() == "true"


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else _true(value)


def _reserved_concurrency(template: Template, properties: Mapping[str, Any]) -> int | None:
    """ReservedConcurrentExecutions (SAM's ReservedConcurrentExecutions lands here too)."""
    value = properties.get("ReservedConcurrentExecutions")
    return None if value is None else int(template.resolve(value))
