"""Everything localcloud changes in moto's DynamoDB (but streams), installed in one call."""

from __future__ import annotations

from localcloud.dynamodb import (
    expressions,
    items,
    queries,
    request_params,
    serializer,
    transactions,
)

__all__ = ["install"]


def install() -> None:
    """TransactWriteItems without a copy of every table it names; a Query reads its partition;
    items are written to the wire without botocore's model walked for every value; an
    expression is parsed once per text; a request without blobs is read with json.loads; an
    item's nested values are written out without a deep copy per level."""
    transactions.install()
    expressions.install()
    request_params.install()
    queries.install()
    serializer.install()
    items.install()
