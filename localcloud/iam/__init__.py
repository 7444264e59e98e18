"""IAM as AWS enforces it: roles from the template, credentials per role, every call evaluated."""
