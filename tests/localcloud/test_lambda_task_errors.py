"""The names Step Functions gives a Lambda task whose invocation Lambda refused or lost."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from localcloud.stepfunctions.lambda_errors import task_error


def refused(code: str, status: int, message: str = "no") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": "req-1",
                "HostId": "",
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        },
        "Invoke",
    )


@pytest.mark.parametrize(
    ("code", "status", "name"),
    [
        ("TooManyRequestsException", 429, "Lambda.TooManyRequestsException"),
        ("ServiceException", 500, "Lambda.ServiceException"),
        ("ResourceNotFoundException", 404, "Lambda.ResourceNotFoundException"),
        # not modelled by the Lambda API: the SDK's base exception
        ("AccessDeniedException", 403, "Lambda.AWSLambdaException"),
        ("InternalFailure", 500, "Lambda.AWSLambdaException"),
    ],
)
def test_lambdas_refusal_is_named_as_the_sdk_names_it(code: str, status: int, name: str) -> None:
    error, cause = task_error(refused(code, status, "Rate Exceeded."))

    assert error == name
    assert cause == (
        f"Rate Exceeded. (Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
        "Request ID: req-1; Proxy: null)"
    )


def test_a_lost_connection_is_an_sdk_client_exception() -> None:
    error, cause = task_error(EndpointConnectionError(endpoint_url="http://localhost:1"))

    assert error == "Lambda.SdkClientException"
    assert "http://localhost:1" in cause
