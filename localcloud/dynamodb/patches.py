"""Everything localcloud changes in moto's DynamoDB (but streams), installed in one call."""

from __future__ import annotations

from localcloud.dynamodb import expressions, queries, serializer, transactions

__all__ = ["install"]


def install() -> None:
    """TransactWriteItems without a copy of every table it names; a Query reads its partition;
    items are written to the wire without botocore's model walked for every value; an
    expression is parsed once per text."""
    transactions.install()
    expressions.install()
    queries.install()
    serializer.install()
