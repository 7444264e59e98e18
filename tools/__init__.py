"""Developer commands that work on the whole project (run from the repository root)."""
