"""Requirements: PEP 508 strings and requirements files."""
