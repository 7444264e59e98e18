"""What a request to the AWS endpoint asks IAM for: its action(s), resource ARN(s) and keys.

AWS authorizes some operations as other actions on several resources: a DynamoDB
TransactWriteItems is each item's PutItem / UpdateItem / DeleteItem / ConditionCheckItem on
its table, a BatchWriteItem is `dynamodb:BatchWriteItem` on every table it names, SendMessageBatch
is `sqs:SendMessage`. So one request gives a list of `Request`s, and all must be allowed.

Resources follow the Service Authorization Reference: tables (`table/T`, `table/T/index/I`,
`table/T/stream/L`), queues by name, event buses, state machines and executions, functions
(with the qualifier), secrets (by full ARN), SSM parameters, SES identities, KMS keys. An
action without resource-level permissions (PutMetricData, X-Ray, ListQueues) is `*`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from localcloud.endpoint.calls import function_name
from localcloud.iam.policy import Request
from localcloud.spec import ACCOUNT_ID, REGION

# The endpoint prefix (as SigV4 signs for it) -> the service prefix IAM actions use.
IAM_PREFIXES = {
    "stepfunctions": "states",
    "states": "states",
    "monitoring": "cloudwatch",
    "dynamodbstreams": "dynamodb",
    "email": "ses",
}

Params = Mapping[str, Any]
Deriver = Callable[[str, Params], list[Request]]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def _one(action: str, resource: str, **context: list[str]) -> list[Request]:
    return [Request(action, resource, context)]


# ---------------------------------------------------------------------- DynamoDB
def table_arn(name: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")


def _hash_key(table: str) -> str | None:
    """The table's partition key attribute, from moto (in this process), for LeadingKeys."""
    from moto.dynamodb.models import dynamodb_backends

    name = table.rsplit("/", 1)[-1]
    try:
        return dynamodb_backends[ACCOUNT_ID][REGION].get_table(name).hash_key_attr
    except Exception:  # moto raises its own not-found types; no table, no key
        return None


def _attribute_text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for kind in ("S", "N", "B"):
            if kind in value:
                return str(value[kind])
    return None


def _leading_keys(table: str, item: Params | None) -> list[str]:
    key = _hash_key(table)
    if key is None or not isinstance(item, Mapping) or key not in item:
        return []
    text = _attribute_text(item[key])
    return [] if text is None else [text]


def _query_leading_keys(table: str, params: Params) -> list[str]:
    """The partition key value a Query's KeyConditionExpression names (`#pk = :v`)."""
    key = _hash_key(table)
    expression = str(params.get("KeyConditionExpression", ""))
    if key is None or not expression:
        return []
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for match in re.finditer(r"([#\w.]+)\s*=\s*(:\w+)", expression):
        attribute = names.get(match.group(1), match.group(1))
        if attribute == key and match.group(2) in values:
            text = _attribute_text(values[match.group(2)])
            return [] if text is None else [text]
    return []


def _dynamodb_item_request(operation: str, table: str, item: Params | None) -> Request:
    context = {"dynamodb:LeadingKeys": _leading_keys(table, item)}
    return Request(f"dynamodb:{operation}", table_arn(table), context)


_TRANSACT_ACTIONS = {
    "Put": ("PutItem", "Item"),
    "Update": ("UpdateItem", "Key"),
    "Delete": ("DeleteItem", "Key"),
    "ConditionCheck": ("ConditionCheckItem", "Key"),
    "Get": ("GetItem", "Key"),
}


def _dynamodb(operation: str, params: Params) -> list[Request]:
    table = str(params.get("TableName", ""))
    if operation in ("PutItem",):
        return [_dynamodb_item_request(operation, table, params.get("Item"))]
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [_dynamodb_item_request(operation, table, params.get("Key"))]
    if operation in ("Query", "Scan"):
        resource = table_arn(table)
        if params.get("IndexName"):
            resource = f"{resource}/index/{params['IndexName']}"
        keys = _query_leading_keys(table, params) if operation == "Query" else []
        return [Request(f"dynamodb:{operation}", resource, {"dynamodb:LeadingKeys": keys})]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        requests = []
        for entry in params.get("TransactItems", []):
            for kind, part in entry.items():
                action, item_field = _TRANSACT_ACTIONS[kind]
                requests.append(
                    _dynamodb_item_request(action, str(part["TableName"]), part.get(item_field))
                )
        return requests
    if operation == "BatchWriteItem":
        return [
            Request(
                "dynamodb:BatchWriteItem",
                table_arn(name),
                {
                    "dynamodb:LeadingKeys": [
                        value
                        for write in writes
                        for kind, part in write.items()
                        for value in _leading_keys(
                            name, part.get("Item" if kind == "PutRequest" else "Key")
                        )
                    ]
                },
            )
            for name, writes in params.get("RequestItems", {}).items()
        ]
    if operation == "BatchGetItem":
        return [
            Request(
                "dynamodb:BatchGetItem",
                table_arn(name),
                {
                    "dynamodb:LeadingKeys": [
                        value
                        for key in request.get("Keys", [])
                        for value in _leading_keys(name, key)
                    ]
                },
            )
            for name, request in params.get("RequestItems", {}).items()
        ]
    if operation in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return _one(f"dynamodb:{operation}", "*")
    return _one(f"dynamodb:{operation}", table_arn(table) if table else "*")


def _dynamodb_streams(operation: str, params: Params) -> list[Request]:
    if operation == "ListStreams":
        return _one("dynamodb:ListStreams", "*")
    # A shard iterator moto hands out begins with its stream's ARN: "<stream arn>|1|<id>".
    stream = params.get("StreamArn") or str(params.get("ShardIterator", "*")).split("|")[0]
    return _one(f"dynamodb:{operation}", str(stream))


# ---------------------------------------------------------------------- SQS
def queue_arn(url_or_name: str) -> str:
    return _arn("sqs", url_or_name.rstrip("/").rsplit("/", 1)[-1])


_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, params: Params) -> list[Request]:
    action = f"sqs:{_SQS_ACTIONS.get(operation, operation)}"
    if operation == "ListQueues":
        return _one(action, "*")
    queue = params.get("QueueUrl") or params.get("QueueName")
    return _one(action, queue_arn(str(queue)) if queue else "*")


# ---------------------------------------------------------------------- the rest
def bus_arn(name_or_arn: str | None) -> str:
    name = name_or_arn or "default"
    return name if name.startswith("arn:") else _arn("events", f"event-bus/{name}")


def _events(operation: str, params: Params) -> list[Request]:
    if operation == "PutEvents":
        buses = sorted({bus_arn(e.get("EventBusName")) for e in params.get("Entries", [])})
        return [Request("events:PutEvents", bus) for bus in buses or [bus_arn(None)]]
    if "Rule" in params or ("Name" in params and operation.endswith("Rule")):
        name = params.get("Rule") or params.get("Name")
        bus = params.get("EventBusName")
        prefix = "" if bus in (None, "default") else f"{str(bus).rsplit('/', 1)[-1]}/"
        return _one(f"events:{operation}", _arn("events", f"rule/{prefix}{name}"))
    if "EventBusName" in params or "Name" in params:
        return _one(
            f"events:{operation}", bus_arn(params.get("EventBusName") or params.get("Name"))
        )
    return _one(f"events:{operation}", "*")


def _states(operation: str, params: Params) -> list[Request]:
    resource = (
        params.get("executionArn")
        or params.get("stateMachineArn")
        or params.get("activityArn")
        or params.get("mapRunArn")
        or "*"
    )
    return _one(f"states:{operation}", str(resource))


def _secretsmanager(operation: str, params: Params) -> list[Request]:
    secret_id = params.get("SecretId")
    if not secret_id:
        return _one(f"secretsmanager:{operation}", "*")
    return _one(f"secretsmanager:{operation}", _secret_arn(str(secret_id)))


def _secret_arn(secret_id: str) -> str:
    """IAM sees a secret's full ARN (with its random suffix) whatever the caller named."""
    from moto.secretsmanager.models import secretsmanager_backends

    secrets = secretsmanager_backends[ACCOUNT_ID][REGION].secrets
    if secret_id in secrets:
        return str(secrets[secret_id].arn)
    return (
        secret_id if secret_id.startswith("arn:") else _arn("secretsmanager", f"secret:{secret_id}")
    )


def _ssm_parameter_arn(name: str) -> str:
    return name if name.startswith("arn:") else _arn("ssm", f"parameter/{name.lstrip('/')}")


def _ssm(operation: str, params: Params) -> list[Request]:
    if "Names" in params:
        return [Request(f"ssm:{operation}", _ssm_parameter_arn(str(n))) for n in params["Names"]]
    name = params.get("Name") or params.get("Path")
    return _one(f"ssm:{operation}", _ssm_parameter_arn(str(name)) if name else "*")


def _kms_key_arn(key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        from moto.kms.models import kms_backends

        resolved = kms_backends[ACCOUNT_ID][REGION].get_key_id_from_alias(key_id)
        return _arn("kms", f"key/{resolved}") if resolved else _arn("kms", key_id)
    return _arn("kms", f"key/{key_id}")


def _kms(operation: str, params: Params) -> list[Request]:
    key = params.get("KeyId")
    return _one(f"kms:{operation}", _kms_key_arn(str(key)) if key else "*")


def _ses(operation: str, params: Params) -> list[Request]:
    if operation in ("SendEmail", "SendRawEmail", "SendTemplatedEmail"):
        source = str(params.get("Source", ""))
        address = source.rsplit("<", 1)[-1].rstrip(">").strip()
        return _one(f"ses:{operation}", _arn("ses", f"identity/{address}"))
    identity = params.get("Identity") or params.get("EmailAddress")
    return _one(f"ses:{operation}", _arn("ses", f"identity/{identity}") if identity else "*")


def _sns(operation: str, params: Params) -> list[Request]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    return _one(f"sns:{operation}", str(topic) if topic else "*")


def _logs(operation: str, params: Params) -> list[Request]:
    group = params.get("logGroupName")
    resource = _arn("logs", f"log-group:{group}:*") if group else "*"
    return _one(f"logs:{operation}", resource)


def _cognito(operation: str, params: Params) -> list[Request]:
    pool = params.get("UserPoolId")
    return _one(
        f"cognito-idp:{operation}", _arn("cognito-idp", f"userpool/{pool}") if pool else "*"
    )


def _no_resources(prefix: str) -> Deriver:
    return lambda operation, _params: _one(f"{prefix}:{operation}", "*")


_DERIVERS: dict[str, Deriver] = {
    "dynamodb": _dynamodb,
    "dynamodbstreams": _dynamodb_streams,
    "sqs": _sqs,
    "events": _events,
    "stepfunctions": _states,
    "states": _states,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "kms": _kms,
    "ses": _ses,
    "email": _ses,
    "sns": _sns,
    "logs": _logs,
    "cognito-idp": _cognito,
    "monitoring": _no_resources("cloudwatch"),
    "xray": _no_resources("xray"),
    "sts": _no_resources("sts"),
}


def function_arn(name: str, qualifier: str | None = None) -> str:
    """A function named by name, partial or full ARN, as Lambda resolves it for IAM."""
    name = unquote(name)
    if name.startswith("arn:"):
        return name if qualifier is None else f"{name}:{qualifier}"
    parts = name.split(":")
    if len(parts) == 3 and parts[1] == "function":  # 123456789012:function:Name
        name = parts[2]
    elif len(parts) == 2:  # Name:qualifier
        name, qualifier = parts
    arn = _arn("lambda", f"function:{name}")
    return arn if qualifier is None else f"{arn}:{qualifier}"


def lambda_requests(operation: str | None, path: str, query: str) -> list[Request]:
    """Lambda's REST calls (the operation as localcloud.endpoint.calls names it), on the
    function's ARN."""
    action = "InvokeFunction" if operation in ("Invoke", "InvokeAsync") else operation or "*"
    name = function_name(path)
    if name is None:
        return _one(f"lambda:{action}", "*")
    qualifier = parse_qs(query).get("Qualifier", [None])[0]
    return _one(f"lambda:{action}", function_arn(name, qualifier))


def requests_for(service: str, operation: str | None, params: Params) -> Iterator[Request]:
    """The IAM requests one AWS call (by endpoint prefix and operation) makes; an operation
    localcloud could not name is asked as `<service>:*`, which only a wildcard grant allows."""
    deriver = _DERIVERS.get(service)
    prefix = IAM_PREFIXES.get(service, service)
    if operation is None:
        yield Request(f"{prefix}:*", "*")
        return
    if deriver is None:
        yield Request(f"{prefix}:{operation}", "*")
        return
    yield from deriver(operation, params)


def parse_params(protocol: str, body: bytes) -> Params:
    """A request body's parameters: JSON for the JSON protocols, the form for query."""
    if not body:
        return {}
    if protocol in ("json", "rest"):
        try:
            params = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return params if isinstance(params, dict) else {}
    if protocol == "query":
        form = parse_qs(body.decode("utf-8", "replace"))
        return {name: values[0] for name, values in form.items()}
    return {}
