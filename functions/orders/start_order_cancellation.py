"""Orders stream -> Step Functions: starts the cancellation workflow for each
OrderCancellationRequested item.

The template filters the stream to OrderCancellationRequested INSERTs. The execution name is
`cancel-<orderId>`, so a redelivered record starts nothing new; a record that fails is reported
(ReportBatchItemFailures) and retried alone.
"""

from __future__ import annotations

from functools import partial

from orders.logic import start_order_cancellation
from orders.repository import StepFunctionsCancellationStarter
from orders.settings import CancellationStarterSettings
from orders.stream_starter import stream_starter_handler
from shop_shared.settings import load_settings

settings = load_settings(CancellationStarterSettings)
starter = StepFunctionsCancellationStarter(settings.order_cancellation_state_machine_arn)
handler = stream_starter_handler(partial(start_order_cancellation, starter=starter))
