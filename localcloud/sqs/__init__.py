"""SQS: what localcloud changes in moto's queues."""
