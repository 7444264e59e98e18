"""localcloud: runs template.yaml on one machine, no AWS account, no Docker."""
