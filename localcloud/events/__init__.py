"""EventBridge: what moto leaves out (pattern validation as PutRule does it, schedules)."""
