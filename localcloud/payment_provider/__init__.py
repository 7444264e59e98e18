"""The external payment provider, simulated (not an AWS service)."""
