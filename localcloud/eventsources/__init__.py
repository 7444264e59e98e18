"""Lambda event source mappings: SQS queues and DynamoDB streams polled into functions."""
