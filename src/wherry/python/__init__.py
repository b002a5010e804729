"""Interpreters: discovery, the probe, the stat-validated info cache, venv creation."""
