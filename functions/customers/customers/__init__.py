"""Customers service: customer profiles, keyed on the Cognito user's `sub`."""
