"""Orders stream -> Step Functions: starts the order saga for each OrderPlaced item and the
cancellation for each OrderCancellationRequested item.

One function reads the orders stream for both workflows (with the outbox relay, the stream's
two readers: AWS advises at most two per shard). The template filters the stream to those two
INSERTs. Execution names are the order id and `cancel-<orderId>`, so a redelivered record
starts nothing new on STANDARD; on EXPRESS, which starts a second execution for a name it has
seen, each workflow's first state (its claim on the order) ends the duplicate. A record that
fails is reported (ReportBatchItemFailures) and retried alone.
"""

from __future__ import annotations

from shop_shared.coldstart import init_done

from functools import partial

# Before anything imports pydantic: Powertools' batch module loads its parser's models of every
# event source (about 25 ms of init) only when pydantic is already imported.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from orders.logic import start_order_workflow
from orders.repository import StepFunctionsCancellationStarter, StepFunctionsSagaStarter
from orders.settings import WorkflowStarterSettings
from orders.stream_starter import stream_starter_handler
from shop_shared.settings import load_settings

settings = load_settings(WorkflowStarterSettings)
handler = stream_starter_handler(
    partial(
        start_order_workflow,
        saga=StepFunctionsSagaStarter(settings.order_saga_state_machine_arn),
        cancellation=StepFunctionsCancellationStarter(
            settings.order_cancellation_state_machine_arn
        ),
    ),
    BatchProcessor(event_type=EventType.DynamoDBStreams),
)


init_done()  # the last statement: see shop_shared.coldstart
