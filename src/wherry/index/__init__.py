"""Indexes: simple API pages, find-links, wheel metadata, several indexes at once."""
