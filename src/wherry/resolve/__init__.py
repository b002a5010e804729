"""Resolution: the provider around nab-resolver, candidates, readable errors."""
