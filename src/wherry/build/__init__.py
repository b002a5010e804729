"""Source builds (PEP 517): later issue."""
