"""The operator's tools, for a stack on AWS and for localcloud alike.

    python -m ops.operator [--aws-url URL] attention            # NEEDS_ATTENTION orders + cases
    python -m ops.operator [--aws-url URL] dead-letters         # what waits in each DLQ, and why
    python -m ops.operator [--aws-url URL] redrive-queue NotificationsDeadLetterQueue
    python -m ops.operator [--aws-url URL] redrive-execution --order ID [--workflow cancellation]
    python -m ops.operator [--aws-url URL] check --order ID     # the invariants of one order

(`make operator ARGS="attention"` runs it against the localcloud of `make run`.)

Redriving a queue moves its messages to the queue whose RedrivePolicy names it (or `--to`):
with SQS's StartMessageMoveTask on AWS; localcloud's moto does not implement it, so there, or
with `--method copy`, each message is received, sent to the destination and then deleted.
Running it again moves what is left; a crash between the send and the delete leaves that one
message in both queues, which every consumer here tolerates (idempotent on the event id; an
operator case names its order).

Redriving an execution: RedriveExecution (STANDARD workflows on AWS) continues a failed,
aborted or timed-out execution from the step that failed. Where it is not available (EXPRESS;
localcloud, whose moto does not implement it), a fresh execution with the same input is
started instead, but only while the order is still PENDING (saga) or CANCELLING
(cancellation): every step is idempotent on the order id (one reservation per order, the
provider's Idempotency-Key charge-<orderId>, one shipment per order, Confirm/Reject and
MarkOrderCancelled only move an order out of those statuses), so the new run finishes what
the old one started without doing anything twice. An order in any other status is refused:
re-running its workflow would change nothing, or would not re-run the failed compensation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from ops.deployment import (
    CANCELLATION_STATE_MACHINE,
    ORDERS_TABLE,
    SAGA_STATE_MACHINE,
    Deployment,
    DeploymentNotFound,
)
from ops.evidence import CANCELLATION_PREFIX, UNREADABLE_HISTORY, gather, order_events
from ops.invariants import (
    CheckOptions,
    add_deployment_arguments,
    attention_orders,
    check,
    classify_dead_letter,
    deployment_from,
    fold_orders,
    quiet_service_logs,
    render,
)
from orders.logic import cancellation_input, fold, saga_input
from orders.models import Order

MOVE_VISIBILITY_SECONDS = 60
REDRIVABLE = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
# The designed end of a workflow whose compensation failed for good (state_machines/*.asl.json):
# its last state is a Fail state, so a redrive would only fail there again.
DESIGNED_FAILURE = "CompensationFailed"
RESTARTABLE_STATUS = {"saga": "PENDING", "cancellation": "CANCELLING"}
EXPRESS_MAX_SECONDS = 300  # an Express execution ends within 5 minutes


class OperatorError(RuntimeError):
    """A request the tools refuse, with what to do instead."""


# ---------------------------------------------------------------- queues


class QueueRedrive(BaseModel):
    source: str
    destination: str
    method: str  # "move-task" | "copy"
    moved: int | None  # None: a move task runs in the background (see taskHandle)
    taskHandle: str | None = None


def redrive_queue(
    deployment: Deployment,
    source: str,
    *,
    to: str | None = None,
    method: str = "auto",
    max_messages: int | None = None,
) -> QueueRedrive:
    """Move the messages of a dead-letter queue back to the queue they came from."""
    source_id = deployment.logical_id_of_queue(source)
    queues = deployment.queues()
    source_url = queues[source_id]
    if to is not None:
        destination_url = queues[deployment.logical_id_of_queue(to)]
    else:
        origins = deployment.source_queues(source_url)
        if len(origins) != 1:
            raise OperatorError(
                f"{source_id} is the dead-letter queue of {len(origins)} queues; name one with --to"
            )
        destination_url = origins[0]
    destination_id = deployment.logical_id_of_queue(destination_url)
    if method == "auto":
        method = "copy" if deployment.localcloud else "move-task"
    sqs = deployment.client("sqs")
    if method == "move-task":
        arns = {
            url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            for url in (source_url, destination_url)
        }
        task = sqs.start_message_move_task(
            SourceArn=arns[source_url], DestinationArn=arns[destination_url]
        )
        return QueueRedrive(
            source=source_id,
            destination=destination_id,
            method=method,
            moved=None,
            taskHandle=task["TaskHandle"],
        )
    moved = _copy_messages(sqs, source_url, destination_url, deployment.localcloud, max_messages)
    return QueueRedrive(source=source_id, destination=destination_id, method=method, moved=moved)


def _copy_messages(
    sqs: Any, source_url: str, destination_url: str, localcloud: bool, max_messages: int | None
) -> int:
    moved = 0
    while max_messages is None or moved < max_messages:
        wanted = 10 if max_messages is None else min(10, max_messages - moved)
        messages = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=wanted,
            VisibilityTimeout=MOVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=0 if localcloud else 1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            send: dict[str, Any] = {"QueueUrl": destination_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**send)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


# ---------------------------------------------------------------- executions


@dataclass(frozen=True)
class ExecutionPlan:
    action: str  # "redrive" | "fresh" | "refuse"
    reason: str


def plan_execution_redrive(
    *,
    status: str | None,
    error: str | None,
    workflow_type: str,
    redrive_available: bool,
    order_status: str | None,
    workflow: str,
    claim_age_seconds: float | None = None,
) -> ExecutionPlan:
    """What redriving an execution means here: RedriveExecution, a fresh execution (only where
    the steps' idempotency makes it safe), or nothing, with the reason. Pure.

    `status` None: Step Functions does not describe the execution (Express); it has ended
    once the claim it wrote is older than Express's 5-minute limit (or it wrote none)."""
    if status is None:
        if claim_age_seconds is not None and claim_age_seconds < EXPRESS_MAX_SECONDS:
            return ExecutionPlan(
                "refuse",
                f"the Express execution that claimed the order {claim_age_seconds:.0f} s ago may "
                f"still be running (up to {EXPRESS_MAX_SECONDS} s): try again later",
            )
    elif status not in REDRIVABLE:
        return ExecutionPlan("refuse", f"the execution is {status}: nothing to redrive")
    if error == DESIGNED_FAILURE:
        return ExecutionPlan(
            "refuse",
            "the execution ended in its NeedsAttention Fail state after a compensation failed "
            "for good; a redrive would only fail there again. Fix the cause (see the case on "
            "OperatorQueue), then finish the failed steps for the order",
        )
    if workflow_type == "STANDARD" and redrive_available and status is not None:
        return ExecutionPlan("redrive", "RedriveExecution continues it from the failed step")
    why_not = (
        "EXPRESS workflows cannot be redriven"
        if workflow_type != "STANDARD"
        else "this endpoint does not implement RedriveExecution (localcloud's moto)"
    )
    wanted = RESTARTABLE_STATUS[workflow]
    if order_status == wanted:
        return ExecutionPlan(
            "fresh",
            f"{why_not}; the order is still {wanted} and every step is idempotent on the order "
            "id, so a fresh execution (its input from the event store, the ended execution's "
            "claim released) finishes it without doing anything twice",
        )
    return ExecutionPlan(
        "refuse",
        f"{why_not}; and the order is {order_status}, not {wanted}: a fresh execution would "
        "change nothing or not re-run what failed",
    )


class ExecutionRedrive(BaseModel):
    executionArn: str | None
    action: str
    reason: str
    newExecutionArn: str | None = None


@dataclass(frozen=True)
class Claim:
    """ClaimOrder's record: which execution runs the order's workflow (WORKFLOW#<orderId>)."""

    execution_arn: str
    age_seconds: float


def redrive_execution(
    deployment: Deployment,
    *,
    order_id: str | None = None,
    execution_arn: str | None = None,
    workflow: str = "saga",
    dry_run: bool = False,
) -> ExecutionRedrive:
    sfn = deployment.client("stepfunctions")
    logical_id = SAGA_STATE_MACHINE if workflow == "saga" else CANCELLATION_STATE_MACHINE
    machine_arn = deployment.physical(logical_id)
    name_prefix = "" if workflow == "saga" else CANCELLATION_PREFIX
    if order_id is None and execution_arn is not None:
        order_id = execution_arn.split(":")[7].removeprefix(name_prefix)
    if order_id is None:
        raise OperatorError("name the order (--order) or the execution (--execution-arn)")
    claim = _claim(deployment, workflow, order_id)
    workflow_type = sfn.describe_state_machine(stateMachineArn=machine_arn)["type"]
    if execution_arn is None:
        standard_arn = (
            f"{machine_arn.replace(':stateMachine:', ':execution:')}:{name_prefix}{order_id}"
        )
        execution_arn = (
            claim.execution_arn if claim and workflow_type != "STANDARD" else standard_arn
        )
    described = _describe(sfn, execution_arn)
    if claim is not None and claim.execution_arn != execution_arn:
        claimant = _describe(sfn, claim.execution_arn)
        if claimant is not None and claimant["status"] == "RUNNING":
            return ExecutionRedrive(
                executionArn=execution_arn,
                action="refuse",
                reason=f"{claim.execution_arn} runs the order's {workflow} now: nothing to do",
            )
    order = _order(deployment, order_id)
    plan = plan_execution_redrive(
        status=described.get("status") if described else None,
        error=described.get("error") if described else None,
        workflow_type=workflow_type,
        redrive_available=not deployment.localcloud,
        order_status=order.status if order else None,
        workflow=workflow,
        claim_age_seconds=claim.age_seconds if claim else None,
    )
    result = ExecutionRedrive(executionArn=execution_arn, action=plan.action, reason=plan.reason)
    if dry_run or plan.action == "refuse":
        return result
    if plan.action == "redrive":
        sfn.redrive_execution(executionArn=execution_arn)
        return result
    payload = _workflow_input(deployment, workflow, order_id)
    if claim is not None:
        _release_claim(deployment, workflow, order_id, claim)
    started = sfn.start_execution(
        stateMachineArn=machine_arn,
        name=f"{name_prefix}{order_id}-rerun-{int(time.time())}",
        input=payload,
    )
    return result.model_copy(update={"newExecutionArn": started["executionArn"]})


def _describe(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    """The execution as Step Functions describes it; None for an Express execution (refused)."""
    try:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in UNREADABLE_HISTORY:
            return None
        raise
    return described


def _claim(deployment: Deployment, workflow: str, order_id: str) -> Claim | None:
    item = (
        deployment.table(ORDERS_TABLE)
        .get_item(Key=_claim_key(workflow, order_id), ConsistentRead=True)
        .get("Item")
    )
    if not item or not item.get("executionId"):
        return None
    claimed_at = datetime.fromisoformat(str(item.get("claimedAt")).replace("Z", "+00:00"))
    age = (datetime.now(UTC) - claimed_at).total_seconds()
    return Claim(execution_arn=str(item["executionId"]), age_seconds=age)


def _claim_key(workflow: str, order_id: str) -> dict[str, str]:
    return {"pk": f"WORKFLOW#{order_id}", "sk": "SAGA" if workflow == "saga" else "CANCELLATION"}


def _release_claim(deployment: Deployment, workflow: str, order_id: str, claim: Claim) -> None:
    """Delete the ended execution's claim, so the fresh one can claim the order; refused when
    another execution claimed it meanwhile."""
    try:
        deployment.table(ORDERS_TABLE).delete_item(
            Key=_claim_key(workflow, order_id),
            ConditionExpression="attribute_not_exists(pk) OR executionId = :claimant",
            ExpressionAttributeValues={":claimant": claim.execution_arn},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise OperatorError(
                f"another execution claimed order {order_id} meanwhile: nothing started"
            ) from error
        raise


def _workflow_input(deployment: Deployment, workflow: str, order_id: str) -> str:
    """The workflow's input as its starter builds it, from the event store (the orders
    service's own saga_input / cancellation_input)."""
    events = order_events(deployment, order_id).get(order_id, [])
    wanted = "OrderPlaced" if workflow == "saga" else "OrderCancellationRequested"
    item = next((event for event in reversed(events) if event.detailType == wanted), None)
    if item is None:
        raise OperatorError(f"order {order_id} has no {wanted} event to start from")
    model = saga_input(item) if workflow == "saga" else cancellation_input(item)
    return model.model_dump_json()


def _order(deployment: Deployment, order_id: str) -> Order | None:
    events = order_events(deployment, order_id).get(order_id, [])
    return fold(event.recorded() for event in events)


# ---------------------------------------------------------------- the command line


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _attention(deployment: Deployment, args: argparse.Namespace) -> int:
    evidence = gather(deployment)
    orders, _ = fold_orders(evidence)
    attention = attention_orders(evidence, orders)
    if args.json:
        _print_json([order.model_dump(mode="json") for order in attention])
        return 0
    if not attention:
        sys.stdout.write("no order needs attention\n")
    for order in attention:
        sys.stdout.write(
            f"{order.orderId} (customer {order.customerId}): {', '.join(order.failedSteps)} "
            f"failed with {order.error}: {order.message}; net charged {order.netChargedCents}\n"
        )
        if not order.cases:
            sys.stdout.write("    NO CASE on OperatorQueue\n")
        for case in order.cases:
            sys.stdout.write(
                f"    case {case.messageId} on {case.queue} ({case.receiveCount} receives): "
                f"{case.workflow} {case.executionArn}\n"
            )
    return 0


def _dead_letters(deployment: Deployment, args: argparse.Namespace) -> int:
    evidence = gather(deployment)
    orders, _ = fold_orders(evidence)
    rows = []
    for message in evidence.deadLetters:
        accounted, violations = classify_dead_letter(message, evidence, orders)
        rows.append(
            {
                "queue": message.queue,
                "messageId": message.messageId,
                "accounted": [case.model_dump() for case in accounted],
                "violations": [violation.model_dump() for violation in violations],
            }
        )
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            what = row["accounted"] or row["violations"]
            sys.stdout.write(f"{row['queue']} {row['messageId']}: {json.dumps(what)}\n")
        sys.stdout.write(f"{len(rows)} messages in dead-letter and on-failure queues\n")
    return 0


def _redrive_queue(deployment: Deployment, args: argparse.Namespace) -> int:
    result = redrive_queue(
        deployment, args.queue, to=args.to, method=args.method, max_messages=args.max
    )
    _print_json(result.model_dump())
    return 0


def _redrive_execution(deployment: Deployment, args: argparse.Namespace) -> int:
    result = redrive_execution(
        deployment,
        order_id=args.order,
        execution_arn=args.execution_arn,
        workflow=args.workflow,
        dry_run=args.dry_run,
    )
    _print_json(result.model_dump())
    return 0 if result.action != "refuse" else 1


def _check(deployment: Deployment, args: argparse.Namespace) -> int:
    report = check(deployment, order_id=args.order, options=CheckOptions())
    sys.stdout.write((report.model_dump_json(indent=2) if args.json else render(report)) + "\n")
    return 0 if report.held else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.operator", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_deployment_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("attention", help="NEEDS_ATTENTION orders with their operator cases")
    commands.add_parser("dead-letters", help="every message in a DLQ or on-failure queue")
    queue = commands.add_parser("redrive-queue", help="move a DLQ's messages back")
    queue.add_argument("queue", help="the dead-letter queue (logical id, name or URL)")
    queue.add_argument("--to", help="the destination queue (default: the one it serves)")
    queue.add_argument("--method", choices=["auto", "move-task", "copy"], default="auto")
    queue.add_argument("--max", type=int, help="move at most this many (copy)")
    execution = commands.add_parser("redrive-execution", help="redrive a failed execution")
    target = execution.add_mutually_exclusive_group(required=True)
    target.add_argument("--order", help="the order whose execution to redrive")
    target.add_argument("--execution-arn")
    execution.add_argument("--workflow", choices=["saga", "cancellation"], default="saga")
    execution.add_argument("--dry-run", action="store_true", help="say what would be done")
    one = commands.add_parser("check", help="the invariants of one order")
    one.add_argument("--order", required=True)
    args = parser.parse_args(argv)
    quiet_service_logs()

    handlers = {
        "attention": _attention,
        "dead-letters": _dead_letters,
        "redrive-queue": _redrive_queue,
        "redrive-execution": _redrive_execution,
        "check": _check,
    }
    try:
        return handlers[args.command](deployment_from(args), args)
    except (OperatorError, DeploymentNotFound) as error:
        sys.stderr.write(f"{error}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
