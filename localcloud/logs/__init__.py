"""Logs offline: one file per function, an index by order and correlation id, and one order's
whole story (log lines, bus events, saga steps, emails) in time order."""
