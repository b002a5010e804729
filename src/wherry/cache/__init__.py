"""The cache: root and versioned buckets (layout), atomic entries (entry)."""
