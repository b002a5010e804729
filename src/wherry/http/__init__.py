"""HTTP: one pooled client used from a thread pool; caching policy."""
