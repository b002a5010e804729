"""Use cases, UI-free: each takes settings and returns a report; the CLI prints it."""
