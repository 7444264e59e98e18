"""GET /v1/orders/{orderId}/details: the order composed with its customer, payment and shipment,
each asked of its owning service in parallel, behind a circuit breaker, within a deadline."""
