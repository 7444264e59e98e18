"""Lambda task errors named as Step Functions names them.

When Lambda itself refuses or fails an invocation (the function never ran, or its answer was
lost), Step Functions reports the Lambda client's exception as the task's error: a throttle is
`Lambda.TooManyRequestsException`, a Lambda service fault `Lambda.ServiceException`, a
connection failure `Lambda.SdkClientException`, and an error the Lambda API does not model
(an IAM denial, `AccessDeniedException`, HTTP 403) the SDK's base class,
`Lambda.AWSLambdaException`. The cause reads like the SDK's message:
`<message> (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException;
Request ID: ...; Proxy: null)`. These are the names a template's Retry and Catch use
(FIELD_NOTES: retry Lambda.ServiceException, Lambda.AWSLambdaException,
Lambda.SdkClientException, Lambda.TooManyRequestsException).

moto's interpreter names them `Exception` for a task whose Resource is the function's ARN
(`StateTaskLambda`), and `Lambda.<error code>` for `arn:aws:states:::lambda:invoke`
(`StateTaskServiceLambda`), where an unmodelled code such as AccessDeniedException keeps its
own name. `install` wraps both (moto's files are not changed): whether a code is modelled is
read from botocore's Lambda service model, the same model AWS's SDKs are generated from.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment

SDK_BASE_EXCEPTION = "AWSLambdaException"
SDK_CLIENT_EXCEPTION = "SdkClientException"
_install_lock = threading.Lock()


@cache
def _modelled_errors() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("lambda")
    return frozenset(
        name for name in model.shape_names if model.shape_for(name).metadata.get("exception", False)
    )


def task_error(error: Exception) -> tuple[str, str]:
    """(Error, Cause) of a Lambda task whose invocation Lambda refused or lost."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        metadata: dict[str, Any] = dict(error.response.get("ResponseMetadata", {}))
        name = code if code in _modelled_errors() else SDK_BASE_EXCEPTION
        details = "; ".join(
            [
                "Service: AWSLambda",
                f"Status Code: {metadata.get('HTTPStatusCode', 0)}",
                f"Error Code: {code}",
                f"Request ID: {metadata.get('RequestId') or 'null'}",
                "Proxy: null",
            ]
        )
        return f"Lambda.{name}", f"{message} ({details})"
    return f"Lambda.{SDK_CLIENT_EXCEPTION}", f"Unable to execute HTTP request: {error}"


def install() -> None:
    """Wrap moto's two Lambda task classes so these errors carry AWS's names (once)."""
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (  # noqa: E501
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    with _install_lock:
        moto_from_error = StateTaskLambda._from_error
        if getattr(moto_from_error, "localcloud", False):
            return

        # "Resource": "<function ARN>": moto answers "Exception" for any ClientError.
        def from_error(self: StateTaskLambda, env: Environment, ex: Exception) -> FailureEvent:
            if not isinstance(ex, (ClientError, BotoCoreError)):
                return moto_from_error(self, env, ex)
            error, cause = task_error(ex)
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.LambdaFunctionFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                        error=error, cause=cause
                    )
                ),
            )

        # "Resource": "arn:aws:states:::lambda:invoke": moto answers Lambda.<code>.
        def error_cause_from_client_error(client_error: ClientError) -> tuple[str, str]:
            return task_error(client_error)

        from_error.localcloud = True  # type: ignore[attr-defined]
        StateTaskLambda._from_error = from_error  # type: ignore[method-assign]
        StateTaskServiceLambda._error_cause_from_client_error = staticmethod(  # type: ignore[method-assign]
            error_cause_from_client_error
        )
