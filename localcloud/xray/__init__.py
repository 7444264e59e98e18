"""X-Ray offline: the daemon's UDP protocol, the segments AWS itself emits (API Gateway stage,
Lambda, Step Functions), stored in moto's X-Ray backend (GetTraceSummaries, BatchGetTraces)."""
