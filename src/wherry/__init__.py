"""wherry: a fast, correct, pip-compatible Python package installer and resolver."""

__version__ = "0.1.0"
