"""The payments service: charges and refunds an order's total with the external provider.

One record per order (`PAYMENT#<orderId>`), written with its event (outbox) in one transaction.
"""
