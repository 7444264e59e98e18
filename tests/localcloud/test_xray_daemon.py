"""The X-Ray daemon on its own, against the endpoint in this process: documents emitted by
localcloud and sent over UDP by the SDKs reach moto's X-Ray in PutTraceSegments batches of at
most 50, are read back whole with BatchGetTraces and GetTraceSummaries, and what is pending at
close is sent."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.awsclients import AwsClients
from localcloud.endpoint.server import AwsEndpoint
from localcloud.xray.daemon import MAX_BATCH, XRayDaemon, datagram
from localcloud.xray.ids import new_segment_id, new_trace_id
from tests.support.polling import eventually


@pytest.fixture(scope="module")
def endpoint() -> Iterator[AwsEndpoint]:
    served = AwsEndpoint(runtime=None, status=lambda: {"ready": True})
    served.serve("127.0.0.1", 0)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def daemon(endpoint: AwsEndpoint) -> Iterator[XRayDaemon]:
    running = XRayDaemon(endpoint.url, port=0)
    yield running
    running.close()


def batch_sizes(daemon: XRayDaemon) -> list[int]:
    """How many documents each PutTraceSegments the daemon makes from now on carries."""
    sizes: list[int] = []
    call = daemon._xray.call

    def record(operation: str, body: bytes, **kwargs: Any) -> bytes:
        if operation == "PutTraceSegments":
            sizes.append(len(json.loads(body)["TraceSegmentDocuments"]))
        return call(operation, body, **kwargs)

    daemon._xray.call = record  # type: ignore[method-assign]
    return sizes


def segment(trace_id: str, name: str) -> dict[str, Any]:
    now = time.time()
    return {
        "name": name,
        "id": new_segment_id(),
        "trace_id": trace_id,
        "start_time": now,
        "end_time": now + 0.01,
        "origin": "AWS::Lambda",
        "http": {"response": {"status": 200}},
    }


def stored(aws: AwsClients, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each trace's documents as BatchGetTraces returns them."""
    xray = aws.client("xray")
    traces = []
    for start in range(0, len(trace_ids), 5):
        traces += xray.batch_get_traces(TraceIds=trace_ids[start : start + 5])["Traces"]
    return {t["Id"]: [json.loads(s["Document"]) for s in t["Segments"]] for t in traces}


def test_emitted_and_udp_documents_reach_x_ray_in_batches_of_at_most_50(
    endpoint: AwsEndpoint, daemon: XRayDaemon
) -> None:
    # Given three traces of 40 segments emitted by localcloud, and 5 segments and a stray
    # datagram sent over UDP by a function's SDK
    aws = AwsClients(endpoint.url)
    sizes = batch_sizes(daemon)
    trace_ids = [new_trace_id() for _ in range(3)]
    emitted = [segment(trace_id, f"fn-{i}") for trace_id in trace_ids for i in range(40)]
    udp_trace = new_trace_id()
    sent_by_sdk = [segment(udp_trace, f"sdk-{i}") for i in range(5)]
    # When they reach the daemon
    for document in emitted:
        daemon.emit(document)
    host, port = daemon.address.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sdk:
        for document in sent_by_sdk:
            sdk.sendto(datagram(document), (host, int(port)))
        sdk.sendto(b"not a segment", (host, int(port)))
    # Then every document is in X-Ray, whole, under its trace
    expected = {t: [d for d in emitted if d["trace_id"] == t] for t in trace_ids}
    expected[udp_trace] = sent_by_sdk

    def all_stored() -> dict[str, list[dict[str, Any]]] | None:
        found = stored(aws, [*trace_ids, udp_trace])
        complete = all(len(found.get(t, [])) == len(docs) for t, docs in expected.items())
        return found if complete else None

    found = eventually(all_stored)
    assert found is not None, f"stored so far: {daemon.stats()}"
    for trace_id, documents in expected.items():
        by_id = {d["id"]: d for d in found[trace_id]}
        assert by_id == {d["id"]: d for d in documents}
    # in calls of at most 50 documents, the first ones full
    assert sum(sizes) == 125
    assert max(sizes) <= MAX_BATCH
    assert sizes[0] == MAX_BATCH
    assert daemon.stats() == {"received": 5, "sent": 125, "rejected": 1}
    # and GetTraceSummaries lists the traces
    now = time.time()
    summaries = aws.client("xray").get_trace_summaries(StartTime=now - 600, EndTime=now + 60)
    listed = {s["Id"] for s in summaries["TraceSummaries"]}
    assert {*trace_ids, udp_trace} <= listed


def test_a_lone_document_goes_after_the_idle_second_and_close_sends_what_is_pending(
    endpoint: AwsEndpoint, daemon: XRayDaemon
) -> None:
    aws = AwsClients(endpoint.url)
    sizes = batch_sizes(daemon)
    # Given one document emitted on its own
    lone = segment(new_trace_id(), "lone")
    daemon.emit(lone)
    # Then it is sent on its own, once its batch has waited
    assert eventually(lambda: stored(aws, [lone["trace_id"]]).get(lone["trace_id"]))
    assert sizes == [1]
    # When three more are emitted and the daemon is closed at once
    trace_id = new_trace_id()
    pending = [segment(trace_id, f"late-{i}") for i in range(3)]
    for document in pending:
        daemon.emit(document)
    daemon.close()
    # Then they were sent before close returned
    assert daemon.stats()["sent"] == 4
    assert sorted(d["id"] for d in stored(aws, [trace_id])[trace_id]) == sorted(
        d["id"] for d in pending
    )
