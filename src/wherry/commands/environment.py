"""Choosing and checking the environment a modifying command acts on."""

from __future__ import annotations

import os
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.errors import EnvironmentError_
from wherry.python.discovery import find_environment
from wherry.python.info import InterpreterInfo


def target_environment(
    python: str | None, cache: Cache, *, system: bool, break_system_packages: bool
) -> InterpreterInfo:
    """The environment to modify, refusing PEP 668 externally managed ones unless told."""
    info = find_environment(python, cache, system=system)
    if not info.is_venv and not break_system_packages:
        marker = Path(str(info.raw["stdlib"])) / "EXTERNALLY-MANAGED"
        if marker.is_file():
            raise EnvironmentError_(
                f"the Python environment at {info.prefix} is externally managed (PEP 668)",
                hint="use a virtual environment (`wherry venv`), or pass "
                "`--break-system-packages` if you are sure",
            )
    return info


def site_dirs(info: InterpreterInfo) -> list[Path]:
    """The directories installed distributions live in (purelib, and platlib if different)."""
    dirs = [Path(info.scheme["purelib"])]
    platlib = Path(info.scheme["platlib"])
    if platlib != dirs[0]:
        dirs.append(platlib)
    return [d for d in dirs if d.is_dir() or not os.path.lexists(d)]
