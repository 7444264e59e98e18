"""Records a stream mapping gives up on: to the on-failure destination, never dropped silently.

Lambda sends an invocation record, not the records themselves, to the mapping's
`DestinationConfig.OnFailure` (an SQS queue or SNS topic), with the function's execution role,
in the shape AWS documents for DynamoDB streams (Lambda developer guide, "Retaining discarded
batch records for a DynamoDB event source"):

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "version": "1.0", "timestamp": "2019-11-14T00:13:49.717Z",
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                            "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                            "batchSize", "streamArn"}}

`condition` is `RetryAttemptsExhausted` or, for records past MaximumRecordAgeInSeconds,
`RecordAgeExceeded`. Arrival times have whole seconds (DynamoDB's), the timestamp
milliseconds. Two details AWS does not document and localcloud had to choose: a batch that was
never invoked (it aged out first) carries no `responseContext`, and a batch whose last attempt
was a partial batch response carries `responseContext` without `functionError`.
Without a destination the batch is logged at ERROR with the same record.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.spec import ACCOUNT_ID

if TYPE_CHECKING:
    from localcloud.awsclients import AwsClients
    from localcloud.lambda_.runtime import InvokeResult

log = logging.getLogger("localcloud.eventsources.failures")

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass(frozen=True)
class DiscardedBatch:
    """Stream records a mapping stopped retrying, and why."""

    condition: str
    function_arn: str
    stream_arn: str
    shard_id: str
    records: tuple[dict[str, Any], ...]  # as the function got them, oldest first
    invoke_count: int  # invocations of this batch
    last_result: InvokeResult | None  # the last invocation's answer; None: never invoked


def invocation_record(batch: DiscardedBatch, now: float) -> dict[str, Any]:
    """The JSON document Lambda sends to a stream mapping's on-failure destination."""
    first, last = batch.records[0]["dynamodb"], batch.records[-1]["dynamodb"]
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": (batch.last_result.request_id if batch.last_result else "")
            or str(uuid.uuid4()),
            "functionArn": batch.function_arn,
            "condition": batch.condition,
            "approximateInvokeCount": batch.invoke_count,
        }
    }
    if batch.last_result is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if batch.last_result.function_error:
            response["functionError"] = batch.last_result.function_error
        record["responseContext"] = response
    record.update(
        {
            "version": "1.0",
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")[:-6]
            + "Z",
            "DDBStreamBatchInfo": {
                "shardId": batch.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _whole_seconds(
                    first["ApproximateCreationDateTime"]
                ),
                "approximateArrivalOfLastRecord": _whole_seconds(
                    last["ApproximateCreationDateTime"]
                ),
                "batchSize": len(batch.records),
                "streamArn": batch.stream_arn,
            },
        }
    )
    return record


def _whole_seconds(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OnFailureDestination:
    """Where a mapping's discarded batches go: the configured queue or topic, else the log."""

    def __init__(self, mapping: str, destination_arn: str | None, clients: AwsClients) -> None:
        self.mapping = mapping
        self.destination_arn = destination_arn
        self.clients = clients
        self.delivered = 0
        self.discarded_without_destination = 0

    def send(self, batch: DiscardedBatch, now: float) -> None:
        record = invocation_record(batch, now)
        body = json.dumps(record)
        if self.destination_arn is None:
            self.discarded_without_destination += 1
            log.error(
                "%s: %d stream records discarded (%s) with no on-failure destination: %s",
                self.mapping,
                len(batch.records),
                batch.condition,
                body,
            )
            return
        try:
            self._deliver(self.destination_arn, body)
        except (ClientError, BotoCoreError):
            log.exception(
                "%s: could not send discarded records to %s: %s",
                self.mapping,
                self.destination_arn,
                body,
            )
            return
        self.delivered += 1
        log.warning(
            "%s: %d stream records discarded (%s), sent to %s",
            self.mapping,
            len(batch.records),
            batch.condition,
            self.destination_arn,
        )

    def _deliver(self, arn: str, body: str) -> None:
        if arn.startswith("arn:aws:sqs:"):
            # The queue URL from its ARN, as Lambda does: no sqs:GetQueueUrl needed.
            name = arn.rsplit(":", 1)[1]
            url = f"{self.clients.endpoint_url}/{ACCOUNT_ID}/{name}"
            self.clients.sqs.send_message(QueueUrl=url, MessageBody=body)
        else:
            self.clients.client("sns").publish(TopicArn=arn, Message=body)
