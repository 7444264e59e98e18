"""The AWS endpoint: moto's server, with Lambda's Invoke API routed to the workers."""
