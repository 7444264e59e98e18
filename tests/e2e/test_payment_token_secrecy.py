"""Nothing secret or personal is written where readers of the system look (issue 11: finding 3
and "Secrets and logs").

The card token is sealed at the edge: PlaceOrder encrypts the payment token with the shop's
payment-token KMS key, bound to the order id; only the ciphertext is stored and passed on, and
only ChargePayment decrypts it.

The shop runs here as an operator debugging it would run it: LogLevel DEBUG and Powertools'
event logging switched on (POWERTOOLS_LOGGER_LOG_EVENT=true in Globals). The customer flows
(place and confirm, a declined card, a shipment that fails and is compensated, a cancellation)
then leave none of these in any log: the customer's ID token or its signature, the raw card
token, the payment provider's key, the customer's email address, their street lines. Logs are
every line localcloud and the functions wrote (their stdout and stderr) and every CloudWatch
Logs event and SNS delivery localcloud holds, and every trace. Every event on the bus and every
Step Functions execution history are scanned for all of them too: CustomerRegistered carries the
email and address, OrderPlaced and the saga's input the order's address, only sealed with the
customer-data KMS key for their customer or order (shop_shared.sealing; only the consumers that
need them may decrypt), while the owner still reads them clear from their own profile and order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.bus import capture_the_bus, drain
from tests.support.localcloud_process import RunningLocalCloud, localcloud_process
from tests.support.mutations import Template, mutated_template
from tests.support.polling import eventually
from tests.support.shop import (
    POLE,
    SAGA_OVERRIDES,
    Client,
    final_order,
    new_product,
    provider_charges,
    scan,
    settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud-token-secrecy")]

# A token the provider simulator accepts (tok_ + anything not a failing card) and that cannot
# appear by chance in any id, name or log line.
RAW_TOKEN = "tok_visa_a9Q7zK3mW2"
STREET = f"Geheimweg {uuid.uuid4().hex[:6]}"  # the customer's registered street line
ORDER_STREET = f"Versteckgasse {uuid.uuid4().hex[:6]}"  # an order's own shipping street line


def debugging(template: Template) -> None:
    """What an operator switches on to debug: every function logs each event it receives."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    variables["POWERTOOLS_LOGGER_LOG_EVENT"] = "true"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalCloud]:
    folder = tmp_path_factory.mktemp("secrecy")
    template = mutated_template(folder, debugging)
    with localcloud_process(
        folder, template=template, overrides={**SAGA_OVERRIDES, "LogLevel": "DEBUG"}
    ) as running:
        yield running


def stream_records(cloud: RunningLocalCloud, table: str) -> list[Any]:
    arn = cloud.aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = cloud.aws.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    records: list[Any] = []
    for shard in shards:
        iterator = cloud.aws.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(cloud.aws.streams.get_records(ShardIterator=iterator)["Records"])
    return records


def saga_history(cloud: RunningLocalCloud, order_id: str) -> list[Any]:
    machine = cloud.status()["environments"]["StartOrderWorkflowsFunction"][
        "ORDER_SAGA_STATE_MACHINE_ARN"
    ]
    executions = cloud.aws.stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    [execution] = [e for e in executions if e["name"] == order_id]
    return cloud.aws.stepfunctions.get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]


def every_execution_history(cloud: RunningLocalCloud) -> list[Any]:
    sfn = cloud.aws.stepfunctions
    histories: list[Any] = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])[
            "executions"
        ]:
            histories.append(
                sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
                    "events"
                ]
            )
    return histories


def cloudwatch_log_events(cloud: RunningLocalCloud) -> list[str]:
    logs = cloud.aws.client("logs")
    messages: list[str] = []
    for group in logs.describe_log_groups()["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
        messages.extend(e["message"] for e in events)
    return messages


def function_log_files(cloud: RunningLocalCloud) -> str:
    """Each function's log file (localcloud's --logs-dir, beside its own log)."""
    folder = cloud.log_path.parent / "logs"
    files = sorted(folder.rglob("*")) if folder.exists() else []
    return "\n".join(f.read_text(errors="replace") for f in files if f.is_file())


def traces(cloud: RunningLocalCloud) -> list[Any]:
    """Every trace localcloud's X-Ray holds (the API's, the functions' and the workflows'
    segments)."""
    xray = cloud.aws.client("xray")
    now = datetime.now(UTC)
    summaries = xray.get_trace_summaries(
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1)
    )["TraceSummaries"]
    ids = [s["Id"] for s in summaries]
    found: list[Any] = []
    for start in range(0, len(ids), 5):
        found.extend(xray.batch_get_traces(TraceIds=ids[start : start + 5])["Traces"])
    return found


def provider_key(cloud: RunningLocalCloud) -> str:
    environment = cloud.status()["environments"]["ChargePaymentFunction"]
    arn = environment["PAYMENT_PROVIDER_API_KEY_SECRET_ARN"]
    key: str = cloud.aws.secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
    return key


def registered_customer(cloud: RunningLocalCloud) -> tuple[Client, str]:
    """A customer registered with a street of this test's own; (client, their email)."""
    username = f"secrecy-{uuid.uuid4().hex[:8]}"
    client = Client(cloud, cloud.token(username))
    address = {"line1": STREET, "city": "Berlin", "postalCode": "10115", "country": "DE"}
    status, profile = client.call(
        "POST",
        "/customers",
        {"name": "Erika Mustermann", "email": f"{username}@example.com", "address": address},
    )
    assert status == 201, profile
    return client, str(profile["email"])


def sns_deliveries(cloud: RunningLocalCloud) -> list[dict[str, Any]]:
    return cloud.sns_messages()


def place(customer: Client, sku: str, token: str, **extra: Any) -> str:
    status, placed = customer.call(
        "POST", "/orders", {"items": [{"sku": sku, "quantity": 1}], "paymentToken": token, **extra}
    )
    assert status == 202, placed
    return str(placed["orderId"])


def test_a_confirmed_orders_card_token_is_nowhere_to_be_read(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a reader of every event on the bus, a product and a customer
    queue_url = capture_the_bus(cloud, "secrecy-bus-capture")
    sku = new_product(admin, stock=3, price=990)
    customer, _ = registered_customer(cloud)

    # When the customer orders with a card token
    order_id = place(customer, sku, RAW_TOKEN)

    # Then the order is confirmed: ChargePayment could read the token, and charged it
    assert final_order(customer, order_id)["status"] == "CONFIRMED"
    assert len(provider_charges(cloud, order_id)) == 1

    # And the raw token is in no OrdersTable item, stream record, history event, bus event or
    # log line, while the order's OrderPlaced item holds its ciphertext
    items = [i for i in scan(cloud, "OrdersTable") if i["pk"] == f"ORDER#{order_id}"]
    placed_item = next(i for i in items if i["detailType"] == "OrderPlaced")
    assert placed_item["paymentTokenCiphertext"]
    assert "paymentToken" not in placed_item
    history = saga_history(cloud, order_id)
    assert history, "the saga ran"
    bus_events: list[str] = []

    def confirmation_on_the_bus() -> bool:  # the relays put each table's events on the bus
        bus_events.extend(drain(cloud, queue_url))
        return any(order_id in b and "OrderConfirmed" in b for b in bus_events)

    assert eventually(confirmation_on_the_bus), "the bus capture saw the order confirmed"
    log = cloud.log() + function_log_files(cloud)
    assert f'"order_id":"{order_id}"' in log.replace(" ", ""), "the functions' logs are in it"
    where = {
        "OrdersTable": json.dumps(items, default=str),
        "OrdersTable stream": json.dumps(stream_records(cloud, "OrdersTable"), default=str),
        "saga execution history": json.dumps(history, default=str),
        "bus events": json.dumps(bus_events),
        "localcloud and function logs": log,
    }
    assert [name for name, text in where.items() if RAW_TOKEN in text] == []


def test_the_customer_flows_at_debug_level_log_no_token_key_email_or_street(
    cloud: RunningLocalCloud, admin: Client
) -> None:
    # Given a reader of the bus, a product, and a customer with an address of their own
    queue_url = capture_the_bus(cloud, "secrecy-flows-capture")
    sku = new_product(admin, stock=10, price=1250)
    customer, email = registered_customer(cloud)
    assert customer.token is not None
    signature = customer.token.rsplit(".", 1)[1]

    # When they place an order that is confirmed, one whose card is declined, one to an address
    # shipping does not serve (charged, then refunded and released), and cancel the first
    confirmed = place(
        customer,
        sku,
        RAW_TOKEN,
        shippingAddress={
            "line1": ORDER_STREET,
            "city": "Hamburg",
            "postalCode": "20095",
            "country": "DE",
        },
    )
    declined = place(customer, sku, "tok_declined")
    compensated = place(customer, sku, RAW_TOKEN, shippingAddress=POLE)
    assert final_order(customer, confirmed)["status"] == "CONFIRMED"
    status, body = customer.call("POST", f"/orders/{confirmed}/cancel")
    assert status == 202, body
    assert settled(customer, confirmed, "CONFIRMED", "CANCELLING")["status"] == "CANCELLED"
    assert final_order(customer, declined)["reason"] == "PAYMENT_DECLINED"
    assert final_order(customer, compensated)["reason"] == "SHIPPING_UNAVAILABLE"
    # And the owner still reads their email and addresses clear, from the services' own tables
    status, profile = customer.call("GET", "/customers/me")
    assert status == 200, profile
    assert (profile["email"], profile["address"]["line1"]) == (email, STREET)
    status, order = customer.call("GET", f"/orders/{confirmed}")
    assert status == 200, order
    assert order["shippingAddress"]["line1"] == ORDER_STREET
    status, details = customer.call("GET", f"/orders/{confirmed}/details")
    assert status == 200, details

    # Then every function ran at DEBUG with Powertools' event logging on, and its lines are in
    # the log scanned (so the scan means something)
    environments = cloud.status()["environments"]
    assert {e["POWERTOOLS_LOG_LEVEL"] for e in environments.values()} == {"DEBUG"}
    assert {e["POWERTOOLS_LOGGER_LOG_EVENT"] for e in environments.values()} == {"true"}
    log = cloud.log()
    function_logs = (log + function_log_files(cloud)).replace(" ", "")
    assert f'"order_id":"{confirmed}"' in function_logs, "the functions' logs are scanned"
    bus_events: list[str] = []

    def cancellation_on_the_bus() -> bool:
        bus_events.extend(drain(cloud, queue_url))
        return any(confirmed in b and "OrderCancelled" in b for b in bus_events)

    assert eventually(cancellation_on_the_bus), "the bus capture saw the cancellation"
    # and the events that carry them by contract were captured, with the fields sealed
    assert any("CustomerRegistered" in b and "emailCiphertext" in b for b in bus_events)
    assert any(confirmed in b and "shippingAddressCiphertext" in b for b in bus_events)
    secrets = {
        "ID token": customer.token,
        "ID token signature": signature,
        "card token": RAW_TOKEN,
        "payment provider key": provider_key(cloud),
    }
    personal = {"email": email, "street": STREET, "order street": ORDER_STREET}
    recorded_traces = traces(cloud)
    assert recorded_traces, "localcloud's X-Ray recorded the run's traces"
    logs = {
        "localcloud and function output": log,
        "function log files": function_log_files(cloud),
        "traces": json.dumps(recorded_traces, default=str),
        "CloudWatch Logs": "\n".join(cloudwatch_log_events(cloud)),
        "SNS deliveries": json.dumps(sns_deliveries(cloud)),
    }
    carried = {
        "bus events": json.dumps(bus_events),
        "execution histories": json.dumps(every_execution_history(cloud), default=str),
    }

    # And no log holds a secret or the customer's email or street lines
    found = [
        f"{kind} in {where}"
        for where, text in logs.items()
        for kind, value in {**secrets, **personal}.items()
        if value in text
    ]
    # And no event or history holds a secret, the email or a street line either
    found += [
        f"{kind} in {where}"
        for where, text in carried.items()
        for kind, value in {**secrets, **personal}.items()
        if value in text
    ]
    assert found == []
