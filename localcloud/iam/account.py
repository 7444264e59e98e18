"""IAM for one localcloud run: the template's roles, enforced everywhere AWS enforces them.

The LocalCloud facade builds an `IamAccount` after provisioning and wires it in:
`authorizer.check` gates every request to the AWS endpoint; `function_specs` gives each
function's workers its role's credentials; `clients_for_function` gives the event source
pollers the function's role; `install_service_roles` makes Step Functions tasks run with the
state machine's role and EventBridge honour queue policies.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from localcloud.awsclients import AwsClients
from localcloud.iam.enforcer import Authorizer
from localcloud.iam.policy import Decision, Request
from localcloud.iam.roles import Role, Roles
from localcloud.iam.service_roles import (
    check_event_deliveries_against_queue_policies,
    deliver_events_without_queue_policies,
    sign_state_machine_calls_with_their_role,
)

if TYPE_CHECKING:
    from localcloud.cloudformation.template import Template
    from localcloud.spec import FunctionSpec

log = logging.getLogger("localcloud.iam")


class RoleNotAssumable(ValueError):
    """A function's or state machine's role does not trust its service (AWS refuses to create
    the function or the state machine)."""


class IamAccount:
    def __init__(self, template: Template) -> None:
        self.template = template
        self.roles = Roles.from_template(template)
        self.authorizer = Authorizer(self.roles)
        self._function_roles = {
            logical_id: self.roles.for_resource(template, logical_id, "Role")
            for logical_id, _ in template.of_type("AWS::Lambda::Function")
        }
        for logical_id, role in self._function_roles.items():
            if not role.trusts("lambda.amazonaws.com"):  # CreateFunction's refusal
                raise RoleNotAssumable(
                    f"{logical_id}: The role defined for the function cannot be assumed by "
                    f"Lambda ({role.name}'s trust policy does not allow lambda.amazonaws.com)"
                )
        for logical_id, _ in template.of_type("AWS::StepFunctions::StateMachine"):
            role = self.roles.for_resource(template, logical_id, "RoleArn")
            if not role.trusts("states.amazonaws.com"):  # CreateStateMachine's refusal
                raise RoleNotAssumable(
                    f"{logical_id}: Neither the global service principal states.amazonaws.com, "
                    f"nor the regional one is authorized to assume the provided role {role.name}"
                )
        self._undelivered: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.undelivered_events = 0

    def function_role(self, function: str) -> Role:
        return self._function_roles[function]

    def function_specs(self, specs: Mapping[str, FunctionSpec]) -> dict[str, FunctionSpec]:
        """The functions with their execution role's credentials in their environment, as
        Lambda gives them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)."""
        return {
            name: dataclasses.replace(
                spec,
                environment={
                    **spec.environment,
                    **self.function_role(name).credentials.environment(),
                },
            )
            for name, spec in specs.items()
        }

    def clients_for_function(self, admin: AwsClients, function: str) -> AwsClients:
        """Clients acting as the function's execution role (event source mappings do), at the
        admin clients' endpoints."""
        credentials = self.function_role(function).credentials.client_kwargs()
        return AwsClients(
            admin.endpoint_url,
            credentials=credentials,
            in_process=admin.in_process,
            service_urls=admin.service_urls,
        )

    def allows(self, role_arn: str, action: str, resource: str) -> bool:
        """For a service localcloud runs itself that acts with a role (EventBridge Scheduler
        invoking its target with the schedule's RoleArn): may the role do it? A refusal is
        logged like the endpoint's."""
        role = self.roles.by_arn(role_arn)
        if role is None:
            log.warning(
                "IAM refused %s on %s: %s is not a role of this template",
                action,
                resource,
                role_arn,
            )
            return False
        request = Request(action, resource)
        decision = self.authorizer.decide(role, request)
        if decision is not Decision.ALLOWED:
            self.authorizer.log_refusal(role, request, decision)
            return False
        return True

    def install_service_roles(self) -> None:
        sign_state_machine_calls_with_their_role(self.roles)
        check_event_deliveries_against_queue_policies(self._event_not_delivered)

    @staticmethod
    def uninstall_service_roles() -> None:
        """moto's backends are process-wide: a later run without IAM must not keep ours."""
        sign_state_machine_calls_with_their_role(None)
        deliver_events_without_queue_policies()

    def _event_not_delivered(self, rule_arn: str, queue_arn: str, decision: Decision) -> None:
        with self._lock:
            self.undelivered_events += 1
            if (rule_arn, queue_arn) in self._undelivered:
                return
            self._undelivered.add((rule_arn, queue_arn))
        log.warning(
            "EventBridge did not deliver to %s for rule %s: the queue's policy does not allow "
            "events.amazonaws.com sqs:SendMessage from this rule (%s)",
            queue_arn,
            rule_arn,
            decision.value,
            extra={"rule": rule_arn, "queue": queue_arn},
        )

    def status(self) -> dict[str, int]:
        return {
            "roles": sum(1 for _ in self.roles),
            "refusals": self.authorizer.refusals,
            "undeliveredEvents": self.undelivered_events,
        }
