"""DynamoDB in a process of its own (localcloud.dynamodb.process): the functions call it there
directly, anyone else through the AWS endpoint, and either way a call is judged as on the
main endpoint: IAM, the fault rules (drawn and counted by localcloud), the billing meter."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.awsclients import LOCAL_CREDENTIALS
from localcloud.spec import REGION
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.polling import eventually
from tests.support.shared_cloud import SHOP_GROUP
from tests.support.shop import Client, final_order, new_customer, new_product, place

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(SHOP_GROUP)]


@pytest.fixture(scope="module")
def cloud(shop_cloud: RunningLocalCloud) -> RunningLocalCloud:
    return shop_cloud


@pytest.fixture(scope="module")
def dynamodb_url(cloud: RunningLocalCloud) -> str:
    process = cloud.status()["dynamodbProcess"]
    assert process is not None, "localcloud runs DynamoDB in its own process by default"
    url: str = process["url"]
    assert url != cloud.aws_url
    return url


def dynamodb(url: str, **credentials: str) -> Any:
    given = credentials or LOCAL_CREDENTIALS
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}),
        aws_access_key_id=given["aws_access_key_id"],
        aws_secret_access_key=given["aws_secret_access_key"],
        aws_session_token=given.get("aws_session_token"),
    )


@pytest.fixture(scope="module")
def table(cloud: RunningLocalCloud) -> str:
    """A table of this module's own (the shared localcloud ends with the group's modules)."""
    name = f"probe-{uuid.uuid4().hex[:8]}"
    dynamodb(cloud.aws_url).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def local_api(cloud: RunningLocalCloud, path: str, body: Any = None, method: str = "GET") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{cloud.aws_url}{path}", data, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def dynamodb_calls(cloud: RunningLocalCloud) -> int:
    calls = local_api(cloud, "/_localcloud/billing")["calls"]
    return sum(count for call, count in calls.items() if call.startswith("dynamodb:"))


def test_an_item_written_at_one_endpoint_is_read_at_the_other(
    cloud: RunningLocalCloud, dynamodb_url: str, table: str
) -> None:
    # Given an item written at DynamoDB's own endpoint
    item = {"pk": {"S": "one"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}}
    dynamodb(dynamodb_url).put_item(TableName=table, Item=item)

    # When it is read through the AWS endpoint, and there
    through_aws = dynamodb(cloud.aws_url).get_item(TableName=table, Key={"pk": {"S": "one"}})
    direct = dynamodb(dynamodb_url).get_item(TableName=table, Key={"pk": {"S": "one"}})

    # Then both read the one table's item, and an error comes through the same
    assert through_aws["Item"] == direct["Item"] == item
    errors = []
    for url in (cloud.aws_url, dynamodb_url):
        with pytest.raises(ClientError) as raised:
            dynamodb(url).get_item(TableName="no-such-table", Key={"pk": {"S": "x"}})
        errors.append(raised.value.response["Error"])
    assert errors[0] == errors[1]
    assert errors[0]["Code"] == "ResourceNotFoundException"


def test_the_functions_call_dynamodb_at_its_own_endpoint(cloud: RunningLocalCloud) -> None:
    # Given what the AWS endpoint forwarded so far, and the DynamoDB calls counted
    forwarded = cloud.status()["dynamodbProcess"]["forwardedRequests"]
    calls = dynamodb_calls(cloud)

    # When an order is placed and confirmed (its functions make tens of DynamoDB calls)
    sku = new_product(Client(cloud, cloud.token("dynamodb-admin", admin=True)), stock=2)
    customer = new_customer(cloud)
    order_id = place(customer, sku, 1, "tok_visa")
    assert final_order(customer, order_id)["status"] == "CONFIRMED"

    # Then most of them reached DynamoDB without passing through the AWS endpoint (what did
    # pass: the saga's own DynamoDB task and this test's reads)
    made = dynamodb_calls(cloud) - calls
    passed = cloud.status()["dynamodbProcess"]["forwardedRequests"] - forwarded
    assert made >= 15, made
    assert passed < made / 3, (passed, made)


def test_a_key_no_role_has_is_refused_there_as_on_the_aws_endpoint(
    cloud: RunningLocalCloud, dynamodb_url: str, table: str
) -> None:
    # Given credentials of no role of the template
    stranger = {
        "aws_access_key_id": "AKIASTRANGER0000000",
        "aws_secret_access_key": "secret",
        "aws_session_token": "token",
    }
    refused = []
    for url in (dynamodb_url, cloud.aws_url):
        # When they call DynamoDB at either endpoint
        with pytest.raises(ClientError) as raised:
            dynamodb(url, **stranger).get_item(TableName=table, Key={"pk": {"S": "one"}})
        refused.append(raised.value.response["Error"]["Code"])

    # Then DynamoDB does not know them, wherever asked
    assert refused == ["UnrecognizedClientException"] * 2


def test_a_fault_rule_set_at_the_aws_endpoint_fires_at_dynamodbs_and_is_counted(
    cloud: RunningLocalCloud, dynamodb_url: str, table: str
) -> None:
    # Given one throttling error for an operation nothing else here calls
    rule = {
        "service": "dynamodb",
        "operation": "DescribeTimeToLive",
        "error": {"code": "ThrottlingException"},
        "limit": 1,
    }
    local_api(cloud, "/_localcloud/faults", [rule], method="PATCH")
    try:
        # When the operation is called at DynamoDB's own endpoint, twice
        with pytest.raises(ClientError) as raised:
            dynamodb(dynamodb_url).describe_time_to_live(TableName=table)
        dynamodb(dynamodb_url).describe_time_to_live(TableName=table)

        # Then the first was refused as the rule says, and the rule counts one fault
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        rules = local_api(cloud, "/_localcloud/faults")["rules"]
        assert [r["fired"] for r in rules if r.get("operation") == "DescribeTimeToLive"] == [1]
    finally:
        local_api(cloud, "/_localcloud/faults", [rule], method="DELETE")


def test_what_dynamodbs_process_serves_is_billed_with_the_rest(
    cloud: RunningLocalCloud, dynamodb_url: str, table: str
) -> None:
    # Given the count so far
    before = local_api(cloud, "/_localcloud/billing")

    # When an item of 1.5 KB is written at DynamoDB's own endpoint
    item = {"pk": {"S": "billed"}, "data": {"S": "x" * 1500}}
    dynamodb(dynamodb_url).put_item(TableName=table, Item=item)

    # Then the AWS endpoint's count has the call (the shared localcloud's functions may still
    # be writing for the group's earlier tests, so the account-wide count may grow by more) and
    # the two write units of this table, which nothing else writes
    after = local_api(cloud, "/_localcloud/billing")
    assert after["calls"]["dynamodb:PutItem"] >= before["calls"].get("dynamodb:PutItem", 0) + 1
    written = before["dynamodb"].get(table, {}).get("writeUnits", 0)
    assert after["dynamodb"][table]["writeUnits"] == written + 2


def test_dynamodbs_process_is_localclouds_child_and_ends_with_it(tmp_path: Path) -> None:
    # Given a localcloud and its DynamoDB process
    with localcloud_process(tmp_path, template=FIXTURES / "template.yaml") as running:
        pid = running.status()["dynamodbProcess"]["pid"]
        with open(f"/proc/{pid}/stat") as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        assert parent == running.process.pid

    # When localcloud stops, then so does it
    running.process.wait(timeout=30)
    assert eventually(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)
