"""localcloud's moto app: no CORS on the AWS endpoint (a web page elsewhere can neither read
its answers nor be allowed to send it a call), and moto's action lookup answered from a cache
that agrees with moto's own."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.session
import pytest
from moto.core import utils as moto_utils
from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.sns.responses import SNSResponse
from moto.sqs.responses import SQSResponse
from moto.stepfunctions.responses import StepFunctionResponse
from werkzeug.test import Client

from localcloud import moto_actions
from localcloud.endpoint import calls
from localcloud.endpoint.server import AwsEndpoint

ELSEWHERE = "https://elsewhere.example"
LIST_TABLES = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}


@pytest.fixture
def endpoint() -> Client:
    return Client(AwsEndpoint(runtime=None, status=dict).wsgi_app)


def test_an_aws_answer_carries_no_cors_headers(endpoint: Client) -> None:
    # When a page on another origin sends an AWS call
    response = endpoint.post("/", data="{}", headers={**LIST_TABLES, "Origin": ELSEWHERE})

    # Then moto answers it, and the browser is not told the page may read the answer
    assert response.status_code == 200
    assert "TableNames" in json.loads(response.get_data())
    assert not [name for name, _ in response.headers if name.lower().startswith("access-control")]


def test_a_preflight_from_another_origin_is_not_granted(endpoint: Client) -> None:
    # When a browser asks whether a page on another origin may send DynamoDB calls
    response = endpoint.open(
        "/",
        method="OPTIONS",
        headers={
            "Origin": ELSEWHERE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
    )

    # Then nothing allows it
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize(
    "response_class",
    [DynamoHandler, SQSResponse, SNSResponse, StepFunctionResponse, EventsHandler, BaseResponse],
)
def test_the_cached_action_names_are_motos_own(response_class: type) -> None:
    # Given moto's own answer for a response class
    expected = set(moto_utils.method_names_from_class(response_class))

    # When localcloud's cache answers, twice
    first = moto_actions.method_names_from_class(response_class)
    second = moto_actions.method_names_from_class(response_class)

    # Then both are moto's answer
    assert first == expected
    assert second == expected


def test_installed_moto_looks_actions_up_in_the_cache() -> None:
    from moto.core import responses

    moto_actions.install()
    moto_actions.install()  # idempotent

    assert responses.method_names_from_class is moto_actions.method_names_from_class


def _load_concurrently(load: Callable[[], object], threads: int = 8) -> None:
    barrier = threading.Barrier(threads)

    def first_use() -> None:
        barrier.wait()
        load()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(first_use) for _ in range(threads)]:
            future.result()


def test_a_service_model_is_loaded_by_one_thread_however_many_miss_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given localcloud's moto patches, over moto's model loader made slow and counted
    AwsEndpoint(runtime=None, status=dict)  # installs them
    assert moto_actions.get_service_model is not None
    moto_actions.get_service_model.cache_clear()
    load = moto_utils._load_service_model
    loads: list[str] = []

    def slow_load(service_name: str, kind: str) -> Any:
        loads.append(service_name)
        time.sleep(0.2)
        return load(service_name, kind)

    monkeypatch.setattr(moto_utils, "_load_service_model", slow_load)
    # When eight threads ask moto for the same model at once
    _load_concurrently(lambda: moto_utils.get_service_model("dynamodb"))
    # Then it was loaded once, and is moto's model
    assert loads == ["dynamodb"]
    assert moto_utils.get_service_model("dynamodb").service_name == "dynamodb"


def test_a_rest_services_routes_are_read_by_one_thread_however_many_miss_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the REST route table not yet read, over a counted model lookup
    calls._rest_routes.cache_clear()
    read = botocore.session.Session.get_service_model
    reads: list[str] = []

    def counted(session: Any, service_name: str, api_version: Any = None) -> Any:
        reads.append(service_name)
        time.sleep(0.2)
        return read(session, service_name, api_version)

    monkeypatch.setattr(botocore.session.Session, "get_service_model", counted)
    # When eight threads ask which operation a Lambda call is, at once
    _load_concurrently(
        lambda: calls.rest_operation("lambda", "POST", "/2015-03-31/functions/f/invocations")
    )
    # Then Lambda's model was read once, and the call named
    assert reads == ["lambda"]
    assert calls.rest_operation("lambda", "POST", "/2015-03-31/functions/f/invocations") == (
        "Invoke"
    )
