"""Faults on purpose: rules that break AWS calls, Lambda invocations, deliveries and the payment
provider, set at start (`localcloud run --faults FILE`) or at run time (`/_localcloud/faults`)."""
