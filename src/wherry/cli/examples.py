"""Examples for the help of commands whose modules do not carry their own (`--help`)."""

from __future__ import annotations

EXAMPLES = {
    "venv": """\
examples:
  wherry venv                          # create .venv with the first Python on PATH
  wherry venv --python 3.12 env312     # a specific Python version
  wherry venv --seed                   # with pip (and setuptools/wheel before 3.12)
""",
}
