"""Cognito: ID tokens from moto's user pools, verified against their JWKS."""
