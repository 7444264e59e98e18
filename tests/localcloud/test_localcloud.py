"""localcloud as a whole, on a small template that uses every wire it provides.

localcloud runs as `make run` runs it (its CLI, its own process); the probe functions write
what they did into a ledger table, so each test asserts what really ran, how many times.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-probe")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    with localcloud_process(
        tmp_path_factory.mktemp("probe"), template=FIXTURES / "template.yaml"
    ) as running:
        yield running


def call(
    cloud: RunningLocalCloud, path: str, token: str | None = None, method: str = "GET"
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": token} if token else {}
    request = urllib.request.Request(cloud.api_url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def hits(cloud: RunningLocalCloud, key: str) -> int:
    item = cloud.aws.dynamodb.get_item(TableName="LedgerTable", Key={"pk": {"S": key}})
    return int(item.get("Item", {}).get("hits", {}).get("N", 0))


# ---------------------------------------------------------------- API -> Lambda, authorizer
def test_public_route_needs_no_token_and_runs_with_the_templates_environment(
    cloud: RunningLocalCloud,
) -> None:
    status, body = call(cloud, "/public?x=1")

    assert status == 200
    assert body["greeting"] == "hello"
    assert body["path"] == "/public"
    assert body["query"] == {"x": "1"}
    assert body["functionName"] == "EchoFunction"
    assert body["endpoint"] == cloud.aws_url
    assert body["dynamodbEndpoint"] == cloud.status()["dynamodbProcess"]["url"]


def test_valid_token_reaches_the_function_with_its_claims(cloud: RunningLocalCloud) -> None:
    token = cloud.token("alice")

    status, body = call(cloud, "/echo/bob", f"Bearer {token}")

    assert status == 200
    assert body["pathParameters"] == {"name": "bob"}
    assert body["claims"]["sub"] == jwt.decode(token, options={"verify_signature": False})["sub"]
    assert body["claims"]["email"] == "alice@example.com"


def test_tokens_come_from_a_local_only_client_not_the_templates(
    cloud: RunningLocalCloud,
) -> None:
    # Given the pool as localcloud reports it
    pool = cloud.status()["userPools"][0]
    local_client = cloud.aws.cognito.describe_user_pool_client(
        UserPoolId=pool["id"], ClientId=pool["tokenClientId"]
    )["UserPoolClient"]

    # When localcloud issues a token
    token = cloud.token("frank")

    # Then it is the local-only client's (not one the template declares), which alone has the
    # server-side password flow, and the pool's authorizer accepts it like any of its clients
    assert pool["tokenClientId"] not in pool["clientIds"]
    assert local_client["ClientName"] == "localcloud-token"
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in local_client["ExplicitAuthFlows"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == pool["tokenClientId"]
    status, _ = call(cloud, "/echo/frank", f"Bearer {token}")
    assert status == 200


def test_missing_token_is_401(cloud: RunningLocalCloud) -> None:
    status, body = call(cloud, "/echo/bob")

    assert status == 401
    assert body == {"message": "Unauthorized", "code": "UNAUTHORIZED"}


def test_expired_token_is_401(cloud: RunningLocalCloud) -> None:
    token = cloud.token("carol")
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 60, "iat": int(time.time()) - 3700},
        _moto_signing_key(),
        algorithm="RS256",
        headers={"kid": header["kid"]},
    )

    status, body = call(cloud, "/echo/bob", expired)

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"
    assert "expired" in body["message"]


def test_forged_token_is_401(cloud: RunningLocalCloud) -> None:
    token = cloud.token("dave")
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["cognito:groups"] = ["admin"]
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()

    status, body = call(cloud, "/admin", f"{header}.{forged_payload}.{signature}", "POST")

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"


def test_wrong_group_is_refused_by_the_function_and_right_group_passes(
    cloud: RunningLocalCloud,
) -> None:
    status_user, body_user = call(cloud, "/admin", cloud.token("erin"), "POST")
    status_admin, body_admin = call(cloud, "/admin", cloud.token("root", admin=True), "POST")

    assert (status_user, body_user["code"]) == (403, "FORBIDDEN")
    assert status_admin == 200
    assert body_admin["claims"]["cognito:groups"] == "admin"


def test_first_call_is_cold_and_the_next_is_warm_in_the_same_process(
    cloud: RunningLocalCloud,
) -> None:
    first = call(cloud, "/public")[1]["pid"]
    second = call(cloud, "/public")[1]["pid"]

    assert first == second
    stats = cloud.status()["functions"]["EchoFunction"]
    assert stats["cold_starts"] >= 1
    assert stats["invocations"] > stats["cold_starts"]


# ---------------------------------------------------------------- Step Functions -> Lambda
def run_execution(cloud: RunningLocalCloud, case: str) -> tuple[str, dict[str, Any]]:
    sfn = cloud.aws.stepfunctions
    (machine,) = sfn.list_state_machines()["stateMachines"]
    run_id = str(uuid.uuid4())
    arn = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        name=run_id,
        input=json.dumps({"case": case, "id": run_id}),
    )["executionArn"]
    done = eventually(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        timeout=60,
    )
    return run_id, done


def test_state_machine_task_succeeds(cloud: RunningLocalCloud) -> None:
    run_id, execution = run_execution(cloud, "succeed")

    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["result"]["ok"] is True
    assert 0 < output["result"]["remainingMs"] <= 5000
    assert hits(cloud, f"succeed#{run_id}") == 1


def test_business_error_is_caught_by_its_name(cloud: RunningLocalCloud) -> None:
    run_id, execution = run_execution(cloud, "business_error")

    assert execution["status"] == "SUCCEEDED"
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "OutOfStock"
    assert run_id in json.loads(error["Cause"])["errorMessage"]
    assert hits(cloud, f"business_error#{run_id}") == 1


def test_task_that_outlives_its_timeout_is_killed_and_caught(cloud: RunningLocalCloud) -> None:
    before = cloud.status()["functions"]["SlowFunction"]["timeouts"]

    run_id, execution = run_execution(cloud, "timeout")

    assert execution["status"] == "SUCCEEDED"
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in json.loads(error["Cause"])["errorMessage"]
    assert hits(cloud, f"slow#{run_id}") == 1
    assert cloud.status()["functions"]["SlowFunction"]["timeouts"] == before + 1


# ---------------------------------------------------------------- EventBridge -> SQS -> Lambda
def test_failed_record_goes_to_the_dlq_after_max_receives_and_the_others_run_once(
    cloud: RunningLocalCloud,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    bad = ids[1]
    cloud.aws.events.put_events(
        Entries=[
            {
                "Source": "probe.tests",
                "DetailType": "Probe",
                "Detail": json.dumps({"id": i, "fail": i == bad}),
                "EventBusName": "shop-probe-bus",
            }
            for i in ids
        ]
    )
    dlq = cloud.aws.sqs.get_queue_url(QueueName="ConsumerDeadLetterQueue")["QueueUrl"]

    dead = eventually(
        lambda: cloud.aws.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages"),
        timeout=30,
    )

    assert dead, "the failing record never reached the DLQ"
    assert [json.loads(m["Body"])["detail"]["id"] for m in dead] == [bad]
    assert hits(cloud, f"consumed#{bad}") == 2  # maxReceiveCount
    assert [hits(cloud, f"consumed#{i}") for i in ids if i != bad] == [1, 1]


# ---------------------------------------------------------------- stream -> relay -> bus
def test_event_item_written_to_a_table_reaches_the_bus_through_the_relay(
    cloud: RunningLocalCloud,
) -> None:
    event_id = str(uuid.uuid4())
    cloud.aws.dynamodb.put_item(
        TableName="LedgerTable",
        Item={
            "pk": {"S": f"EVENT#{event_id}"},
            "itemType": {"S": "EVENT"},
            "eventId": {"S": event_id},
            "source": {"S": "probe.outbox"},
            "detailType": {"S": "ThingHappened"},
            "detail": {"S": json.dumps({"metadata": {"eventId": event_id}, "data": {}})},
        },
    )
    cloud.aws.dynamodb.put_item(  # not an event item: filtered out by the mapping
        TableName="LedgerTable", Item={"pk": {"S": f"STATE#{event_id}"}}
    )
    queue = cloud.aws.sqs.get_queue_url(QueueName="RelayedQueue")["QueueUrl"]

    messages = eventually(
        lambda: cloud.aws.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages"),
    )

    assert messages
    (relayed,) = [json.loads(m["Body"]) for m in messages]
    assert relayed["source"] == "probe.outbox"
    assert relayed["detail-type"] == "ThingHappened"
    assert relayed["detail"]["metadata"]["eventId"] == event_id


# ---------------------------------------------------------------- throttling (last: it drains)
def test_stage_throttling_answers_429_past_the_burst(cloud: RunningLocalCloud) -> None:
    statuses = [call(cloud, "/public")[0] for _ in range(25)]

    assert 429 in statuses
    assert statuses[0] == 200
    status, body = call(cloud, "/public")
    if status == 429:
        assert body == {"message": "Too Many Requests", "code": "THROTTLED"}


def _moto_signing_key() -> Any:
    import gzip

    from jwt.algorithms import RSAAlgorithm
    from moto import cognitoidp

    path = Path(cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    jwk = json.loads(gzip.decompress(path.read_bytes()))
    return RSAAlgorithm.from_jwk(json.dumps(jwk))


# ---------------------------------------------------------------- DynamoDB atomicity
def test_concurrent_conditional_writes_never_oversell(cloud: RunningLocalCloud) -> None:
    # Given 5 units and 24 concurrent buyers, each a conditional decrement (as reserve_stock)
    key = {"pk": {"S": f"STOCK#{uuid.uuid4()}"}}
    cloud.aws.dynamodb.put_item(TableName="LedgerTable", Item={**key, "stock": {"N": "5"}})
    clients = [cloud.aws.client("dynamodb") for _ in range(8)]

    def buy(n: int) -> bool:
        try:
            clients[n % len(clients)].update_item(
                TableName="LedgerTable",
                Key=key,
                UpdateExpression="SET stock = stock - :one",
                ConditionExpression="stock >= :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # When they all buy at once
    with ThreadPoolExecutor(max_workers=24) as pool:
        sold = sum(pool.map(buy, range(24)))

    # Then exactly the stock is sold and it never goes negative
    item = cloud.aws.dynamodb.get_item(TableName="LedgerTable", Key=key, ConsistentRead=True)
    assert (sold, item["Item"]["stock"]["N"]) == (5, "0")
