"""Lambda: each function's worker processes, started through the Lambda Runtime API."""
