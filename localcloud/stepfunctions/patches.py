"""Everything localcloud puts back into moto's Step Functions, installed in one call."""

from __future__ import annotations

from localcloud.stepfunctions import (
    express,
    finished_threads,
    json_copy,
    lambda_errors,
    lambda_invoke,
    parse_cache,
    sdk_calls,
    task_threads,
)
from localcloud.stepfunctions.express import StepFunctionsSettings

__all__ = ["StepFunctionsSettings", "install"]


def install(settings: StepFunctionsSettings | None = None) -> None:
    """EXPRESS machines run as EXPRESS; Lambda task errors carry AWS's names; a definition
    is parsed once, not at every execution; finished threads are not kept; a Task state's
    evaluation runs on a reused thread; Lambda and DynamoDB tasks'
    calls skip botocore's client; JSON data is copied without deepcopy's machinery."""
    express.install(settings)
    lambda_errors.install()
    lambda_invoke.install()
    sdk_calls.install_dynamodb_tasks()
    parse_cache.install()
    finished_threads.install()
    task_threads.install()
    json_copy.install()
