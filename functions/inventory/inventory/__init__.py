"""Inventory service: the product catalog and the stock reserved for orders."""
