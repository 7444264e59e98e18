"""Shipping service: schedules and cancels an order's shipment, keeps customers' addresses.

One record per order (`SHIPMENT#<orderId>`), written with its event (outbox) in one
transaction; one address per customer (`ADDRESS#<customerId>`), learnt from CustomerRegistered.
"""
