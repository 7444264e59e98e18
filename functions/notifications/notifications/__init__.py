"""Notifications service: emails customers about their orders, from events on the bus."""
