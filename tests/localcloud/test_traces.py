"""Traces and one order's story, offline (issue 12, items 1 and 2).

An order is placed through the API on a localcloud running the shop's template; X-Ray (moto's
backend, through the endpoint's X-Ray API) then holds the segments AWS would record: the API
stage, Lambda's service and function segments, the saga's state machine segment with a
subsegment per state; and the order's story gathers its log lines, bus events, saga steps and
email from every function.
"""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.cli import main as localcloud_cli
from localcloud.xray.daemon import datagram
from localcloud.xray.ids import new_segment_id, new_trace_id
from tests.support.localcloud_process import RunningLocalCloud
from tests.support.polling import eventually
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import Client, new_customer, new_product, settled

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(SHOP_GROUP)]


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


@pytest.fixture(scope="module")
def order(cloud: RunningLocalCloud) -> dict[str, Any]:
    """One confirmed order, placed with the POST's response headers kept."""
    admin = Client(cloud, cloud.token("traces-admin", admin=True))
    sku = new_product(admin, stock=5)
    customer = new_customer(cloud)
    request = urllib.request.Request(
        cloud.api_url + "/orders",
        method="POST",
        data=json.dumps(
            {"items": [{"sku": sku, "quantity": 1}], "paymentToken": "tok_visa"}
        ).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {customer.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        body = json.loads(response.read())
        trace_header = response.headers["X-Amzn-Trace-Id"]
        request_id = response.headers["x-amzn-RequestId"]
    confirmed = settled(customer, body["orderId"], "PENDING")
    assert confirmed["status"] == "CONFIRMED"
    return {
        "id": body["orderId"],
        "trace_id": trace_header.split(";")[0].removeprefix("Root="),
        "request_id": request_id,
    }


def xray(cloud: RunningLocalCloud) -> Any:
    return cloud.aws.client("xray")


def segments(cloud: RunningLocalCloud, trace_id: str) -> list[dict[str, Any]]:
    traces = xray(cloud).batch_get_traces(TraceIds=[trace_id])["Traces"]
    return [json.loads(s["Document"]) for t in traces for s in t["Segments"]]


def segments_when(cloud: RunningLocalCloud, trace_id: str, *origins: str) -> list[dict[str, Any]]:
    """The trace's segments once one of each origin is in (the daemon sends in batches)."""

    def check() -> list[dict[str, Any]] | None:
        found = segments(cloud, trace_id)
        have = {document.get("origin") for document in found}
        return found if set(origins) <= have else None

    found = eventually(check)
    assert found, f"trace {trace_id} lacks one of {origins}: {segments(cloud, trace_id)}"
    return found


def story(cloud: RunningLocalCloud, order_id: str) -> dict[str, Any]:
    url = f"{cloud.aws_url}/_localcloud/orders/{order_id}/story"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def get(cloud: RunningLocalCloud, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(cloud.aws_url + path, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------- the POST's trace


def test_the_posts_trace_holds_the_api_stage_and_place_order_segments(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    found = segments_when(
        cloud, order["trace_id"], "AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function"
    )

    stage = next(s for s in found if s["origin"] == "AWS::ApiGateway::Stage")
    service = next(s for s in found if s["origin"] == "AWS::Lambda")
    function = next(s for s in found if s["origin"] == "AWS::Lambda::Function")
    assert stage["http"]["request"]["method"] == "POST"
    assert stage["http"]["response"]["status"] == 202
    assert stage["aws"]["request_id"] == order["request_id"]
    # API Gateway's Lambda subsegment is the Lambda service segment's parent, which is the
    # function segment's parent: one tree.
    (integration,) = stage["subsegments"]
    assert integration["aws"]["function_name"] == "PlaceOrderFunction"
    assert service["parent_id"] == integration["id"]
    assert function["parent_id"] == service["id"]
    assert function["name"] == "PlaceOrderFunction"
    assert not function.get("fault")


def test_the_function_runs_with_the_trace_header_as_lambda_gives_it(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    # Powertools' Logger writes _X_AMZN_TRACE_ID's root on every line as xray_trace_id.
    status, body = get(cloud, f"/_localcloud/logs?function=PlaceOrderFunction&order={order['id']}")

    assert status == 200
    assert body["lines"]
    assert {line["traceId"] for line in body["lines"]} == {order["trace_id"]}


# ---------------------------------------------------------------- the saga's trace


def test_the_saga_execution_is_traced_with_its_states_and_task_functions(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    told = story(cloud, order["id"])
    saga_traces = [t for t in told["traceIds"] if t != order["trace_id"]]
    assert saga_traces, told["traceIds"]

    def saga_segment() -> dict[str, Any] | None:
        """The execution's segment, once the daemon has sent it (it sends once a second)."""
        found = [s for trace_id in saga_traces for s in segments(cloud, trace_id)]
        machines = [s for s in found if s.get("origin") == "AWS::StepFunctions::StateMachine"]
        ours = (m for m in machines if m["aws"]["execution_arn"].endswith(":" + order["id"]))
        return next(ours, None)

    saga = eventually(saga_segment)
    assert saga, f"no execution segment in {saga_traces}"
    states = {state["name"]: state for state in saga["subsegments"]}
    assert {"ReserveStock", "ChargePayment", "ScheduleShipment", "ConfirmOrder"} <= set(states)
    assert not saga.get("error")
    # The task's function joins the execution's trace below the state's Lambda subsegment.
    (reserve_call,) = states["ReserveStock"]["subsegments"]
    reserve_service = next(
        s
        for s in segments(cloud, saga["trace_id"])
        if s.get("origin") == "AWS::Lambda" and s["name"] == "ReserveStockFunction"
    )
    assert reserve_service["parent_id"] == reserve_call["id"]
    # The execution was started by StartOrderWorkflows (botocore forwarded its trace header).
    starter = next(s for s in segments(cloud, saga["trace_id"]) if s["id"] == saga["parent_id"])
    assert starter["name"] == "StartOrderWorkflowsFunction"


def test_the_saga_is_linked_to_the_post_by_the_orders_correlation_id(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    # On AWS a DynamoDB stream record carries no trace context: the stream-triggered
    # StartOrderWorkflows starts a new trace, so the POST and the saga are two traces. What
    # links them is the correlation id (the POST's request id) on every log line of both.
    told = story(cloud, order["id"])

    assert told["correlationIds"] == [order["request_id"]]
    assert order["trace_id"] in told["traceIds"]
    assert len(told["traceIds"]) >= 2


# ---------------------------------------------------------------- X-Ray's API


def test_get_trace_summaries_filters_by_service_and_by_annotation(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    # Given a segment an SDK sends to the daemon over UDP, with an annotation
    address = cloud.status()["xrayDaemonAddress"]
    host, port = address.rsplit(":", 1)
    trace_id, now = new_trace_id(), time.time()
    document = {
        "trace_id": trace_id,
        "id": new_segment_id(),
        "name": "sdk-sent",
        "start_time": now - 0.2,
        "end_time": now,
        "annotations": {"order_id": order["id"]},
    }
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(datagram(document), (host, int(port)))

    def summaries(expression: str) -> list[str]:
        answer = xray(cloud).get_trace_summaries(
            StartTime=now - 600, EndTime=time.time() + 60, FilterExpression=expression
        )
        return [summary["Id"] for summary in answer["TraceSummaries"]]

    # When filtered on the annotation, then that trace alone answers
    by_annotation = eventually(lambda: summaries(f'annotation.order_id = "{order["id"]}"'))
    assert by_annotation == [trace_id]
    # And on a service: the POST's trace is among PlaceOrderFunction's
    assert order["trace_id"] in summaries('service("PlaceOrderFunction")')
    assert order["trace_id"] not in summaries('service("PlaceOrderFunction") AND fault')


def test_an_unsupported_filter_expression_is_refused_not_ignored(cloud: RunningLocalCloud) -> None:
    with pytest.raises(ClientError) as refused:
        xray(cloud).get_trace_summaries(
            StartTime=time.time() - 60, EndTime=time.time(), FilterExpression="edge(a, b)"
        )

    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"


def test_the_trace_json_route_flattens_the_trace_for_a_waterfall(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    segments_when(cloud, order["trace_id"], "AWS::ApiGateway::Stage", "AWS::Lambda::Function")

    status, trace = get(cloud, f"/_localcloud/traces/{order['trace_id']}")

    assert status == 200
    by_origin = {span["origin"]: span for span in trace["spans"] if span["origin"]}
    assert by_origin["AWS::ApiGateway::Stage"]["depth"] == 0
    assert by_origin["AWS::Lambda::Function"]["depth"] == 3  # stage > Lambda > service > function
    status, listed = get(cloud, "/_localcloud/traces?limit=1000")
    assert status == 200
    (summary,) = [t for t in listed["traces"] if t["id"] == order["trace_id"]]
    assert summary["origin"] == "AWS::ApiGateway::Stage"
    assert summary["http"]["method"] == "POST"
    assert summary["http"]["status"] == 202
    assert get(cloud, "/_localcloud/traces?limit=0")[0] == 400
    assert get(cloud, "/_localcloud/traces/1-00000000-000000000000000000000000")[0] == 404
    assert get(cloud, "/_localcloud/traces/not-a-trace")[0] == 400


# ---------------------------------------------------------------- the order's story


def test_the_story_tells_every_function_event_step_and_email_in_time_order(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    def complete() -> dict[str, Any] | None:
        told = story(cloud, order["id"])
        kinds = {entry["kind"] for entry in told["entries"]}
        return told if kinds >= {"log", "event", "execution", "email"} else None

    told = eventually(complete)
    assert told, story(cloud, order["id"])

    epochs = [entry["epoch"] for entry in told["entries"]]
    assert epochs == sorted(epochs)
    functions = {e["source"] for e in told["entries"] if e["kind"] == "log"}
    assert {
        "PlaceOrderFunction",
        "StartOrderWorkflowsFunction",
        "ChargePaymentFunction",
        "ConfirmOrderFunction",
        "SendNotificationFunction",
    } <= functions
    events = {e["detail"]["detailType"] for e in told["entries"] if e["kind"] == "event"}
    assert {"OrderPlaced", "OrderConfirmed"} <= events
    steps = [e["message"] for e in told["entries"] if e["kind"] == "execution"]
    assert any("ConfirmOrder" in step for step in steps)


def test_localcloud_logs_order_prints_the_story(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = localcloud_cli(["logs", "--order", order["id"], "--aws-url", cloud.aws_url])

    assert code == 0
    printed = out.getvalue()
    assert "PlaceOrderFunction" in printed
    assert "OrderPlaced" in printed
    assert "ReserveStock" in printed


def test_an_unknown_order_has_no_story(cloud: RunningLocalCloud) -> None:
    assert get(cloud, "/_localcloud/orders/no-such-order/story")[0] == 404


def test_each_function_writes_its_own_log_file_read_by_localcloud_logs(
    cloud: RunningLocalCloud, order: dict[str, Any]
) -> None:
    logs_dir = cloud.log_path.parent / "logs"
    assert order["id"] in (logs_dir / "PlaceOrderFunction.log").read_text()

    out = io.StringIO()
    with redirect_stdout(out):
        code = localcloud_cli(
            ["logs", "--function", "PlaceOrderFunction", "--logs-dir", str(logs_dir)]
        )

    assert code == 0
    assert order["id"] in out.getvalue()
    assert all("PlaceOrderFunction" in line for line in out.getvalue().splitlines())
