"""Rebuild the orders read model (OrderSummariesTable) from the event store (OrdersTable).

    PYTHONPATH=layers/shared:functions/orders python -m rebuild_order_summaries \\
        --orders-table OrdersTable --summaries-table OrderSummariesTable

`make rebuild-order-summaries` runs it against a running localcloud (AWS_ENDPOINT_URL); against
AWS, pass the stack's physical table names. Into an empty table (a new one created from the
template's definition) it builds the read model from scratch; over the live table it rewrites
every summary at the version the store holds, never over a newer one the projection wrote
meanwhile (see orders.read_model.logic.rebuild_summaries). Safe to run again.
"""

from __future__ import annotations

import argparse
import sys

from orders.read_model.logic import rebuild_summaries
from orders.read_model.repository import DynamoDBOrderSummaryStore, order_ids
from orders.repository import DynamoDBOrderEventStore
from shop_shared.dynamodb import dynamodb as shared_dynamodb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rebuild_order_summaries", description=__doc__)
    parser.add_argument("--orders-table", required=True, help="the event store (OrdersTable)")
    parser.add_argument(
        "--summaries-table", required=True, help="the read model to (re)build (OrderSummariesTable)"
    )
    args = parser.parse_args(argv)

    dynamodb = shared_dynamodb()
    orders_table = dynamodb.Table(args.orders_table)
    report = rebuild_summaries(
        order_ids(orders_table),
        store=DynamoDBOrderEventStore(args.orders_table, table=orders_table),
        summaries=DynamoDBOrderSummaryStore(args.summaries_table),
    )
    print(
        f"{report.orders} orders in {args.orders_table}: {report.written} summaries written to "
        f"{args.summaries_table}, {report.kept} left (a newer version was there already)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
