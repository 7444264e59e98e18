"""Orders stream -> Step Functions: starts the order saga for each OrderPlaced item.

The template filters the stream to OrderPlaced INSERTs. The execution name is the order id, so a
redelivered record starts nothing new; a record that fails is reported (ReportBatchItemFailures)
and retried alone.
"""

from __future__ import annotations

from functools import partial

from orders.logic import start_order_saga
from orders.repository import StepFunctionsSagaStarter
from orders.settings import SagaStarterSettings
from orders.stream_starter import stream_starter_handler
from shop_shared.settings import load_settings

settings = load_settings(SagaStarterSettings)
starter = StepFunctionsSagaStarter(settings.order_saga_state_machine_arn)
handler = stream_starter_handler(partial(start_order_saga, starter=starter))
