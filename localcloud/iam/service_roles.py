"""AWS services that act with a role or check a resource policy, inside moto.

Two places where moto acts for a principal without asking IAM:

- Step Functions: an execution's tasks call Lambda, SQS, EventBridge, ... with the state
  machine's role. moto's interpreter (LocalStack's, in `moto/stepfunctions/parser`) makes
  those calls through `asl/utils/boto_client.boto_client_for(region, service,
  state_credentials)`, a boto3 client for http://localhost:$MOTO_PORT signed with fixed
  dummy keys; `state_credentials.role_arn` is the execution's role. We swap that function,
  in every module that imported it, for one signing with that role's credentials, so the
  endpoint's IAM check sees the state machine's role.
- EventBridge -> SQS: moto's `Rule._send_to_sqs_queue` puts the event on the queue directly.
  AWS delivers only when the queue's policy lets `events.amazonaws.com` send, usually only
  for the rule (`aws:SourceArn`); otherwise the invocation fails (FailedInvocations) and the
  event is not delivered. We wrap that method with the queue-policy check.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.endpoint.inprocess import answer_in_process
from localcloud.iam.policy import Decision, Policy, PolicyError, Principal, Request, evaluate
from localcloud.iam.roles import Credentials, Roles
from localcloud.spec import ACCOUNT_ID

log = logging.getLogger("localcloud.iam")

# Every module of moto 5.2's interpreter that does `from ...boto_client import boto_client_for`.
_BOTO_CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.utils.boto_client",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    *(
        f"moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_{name}"
        for name in ("aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs")
    ),
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
)

# The role whose credentials an unknown role ARN gets: none, so the endpoint refuses the call.
_NO_CREDENTIALS = Credentials("unknown-role", "unknown-role", "unknown-role")


# The roles of the localcloud running in this process (moto's backends are process-wide);
# None: no IAM, so the interpreter signs as localcloud's admin.
_roles: Roles | None = None


def state_machine_credentials(role_arn: str) -> dict[str, str]:
    """boto3's credential arguments for an execution acting with this role (localcloud's
    admin's when IAM is off; an unknown role's, which the endpoint refuses, for no role)."""
    if _roles is None:
        return dict(LOCAL_CREDENTIALS)
    role = _roles.by_arn(role_arn)
    return (role.credentials if role is not None else _NO_CREDENTIALS).client_kwargs()


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's `boto_client_for`, signed with the execution's role instead of dummy keys.

    One client per (region, service, role, endpoint), kept: boto3 clients are thread-safe, and
    making one per task cost about a tenth of localcloud's CPU in a burst of orders."""
    from moto.settings import moto_server_port

    role_arn = getattr(state_credentials, "role_arn", "") or ""
    key = (region, service, role_arn, moto_server_port(), id(_roles))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(region, service, role_arn, moto_server_port())
    return client


_clients: dict[tuple[str, str, str, str, int], Any] = {}
_clients_lock = threading.Lock()


def _new_client(region: str, service: str, role_arn: str, port: str) -> Any:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    client = boto3.session.Session().client(
        service_name=service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=f"http://localhost:{port}",
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        ),
        **state_machine_credentials(role_arn),
    )
    return answer_in_process(client)  # signed as the role, answered without the HTTP hop


def sign_state_machine_calls_with_their_role(roles: Roles | None) -> None:
    """Make moto's Step Functions interpreter call AWS as the execution's role (None: as
    localcloud's admin, for a run without IAM in a process that had one with it)."""
    global _roles  # noqa: PLW0603 - moto's interpreter is process-wide, so is this
    _roles = roles
    for name in _BOTO_CLIENT_USERS:
        module = importlib.import_module(name)
        if not hasattr(module, "boto_client_for"):
            raise RuntimeError(f"moto changed: {name} no longer uses boto_client_for")
        module.boto_client_for = _boto_client_for  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- EventBridge -> SQS
EVENTS_PRINCIPAL = Principal("Service", "events.amazonaws.com")
Refusal = Callable[[str, str, Decision], None]


@lru_cache(maxsize=1024)
def queue_policy_allows(policy_text: str | None, queue_arn: str, rule_arn: str) -> Decision:
    """May EventBridge, for this rule, send to the queue? (No policy: no.)

    Decided once per policy text, queue and rule: every event a rule delivers asked it again,
    parsing and evaluating the policy each time (3% of localcloud's CPU in a burst)."""
    if not policy_text:
        return Decision.IMPLICIT_DENY
    try:
        policy = Policy.parse(f"policy of {queue_arn}", json.loads(policy_text))
    except (PolicyError, json.JSONDecodeError) as error:
        log.warning("queue policy of %s can't be evaluated: %s", queue_arn, error)
        return Decision.IMPLICIT_DENY
    request = Request(
        "sqs:SendMessage",
        queue_arn,
        {"aws:SourceArn": [rule_arn], "aws:SourceAccount": [ACCOUNT_ID]},
        EVENTS_PRINCIPAL,
    )
    return evaluate([policy], request)


def check_event_deliveries_against_queue_policies(on_refusal: Refusal) -> None:
    """Wrap moto's EventBridge delivery to SQS with the target queue's policy check."""
    from moto.events.models import Rule
    from moto.sqs import sqs_backends

    deliver = getattr(Rule._send_to_sqs_queue, "__wrapped__", Rule._send_to_sqs_queue)

    def send_if_the_queue_policy_allows(
        rule: Rule, resource_id: str, event: dict[str, Any], group_id: str | None = None
    ) -> None:
        queue = sqs_backends[rule.account_id][rule.region_name].get_queue(resource_id)
        decision = queue_policy_allows(queue.policy, queue.queue_arn, rule.arn)
        if decision is not Decision.ALLOWED:
            on_refusal(rule.arn, queue.queue_arn, decision)
            return  # AWS counts a FailedInvocation; the event is not delivered
        deliver(rule, resource_id, event, group_id)

    send_if_the_queue_policy_allows.__wrapped__ = deliver  # type: ignore[attr-defined]
    Rule._send_to_sqs_queue = send_if_the_queue_policy_allows  # type: ignore[method-assign,assignment]


def deliver_events_without_queue_policies() -> None:
    """Undo `check_event_deliveries_against_queue_policies` (a run without IAM)."""
    from moto.events.models import Rule

    wrapped = getattr(Rule._send_to_sqs_queue, "__wrapped__", None)
    if wrapped is not None:
        Rule._send_to_sqs_queue = wrapped  # type: ignore[method-assign]
