"""SNS: delivery to a topic's HTTP/HTTPS and email subscriptions (moto delivers to SQS itself),
and the KMS rule that decides whether a service such as CloudWatch may publish to a topic."""
