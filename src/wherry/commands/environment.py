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
    check_modifiable(info, system=system, break_system_packages=break_system_packages)
    return info


def check_modifiable(
    info: InterpreterInfo, *, system: bool, break_system_packages: bool
) -> None:
    """Refuse a non-virtual environment without `--system`, and a PEP 668 one without
    `--break-system-packages` (a conda environment counts as virtual, as in uv)."""
    conda = os.environ.get("CONDA_PREFIX")
    is_conda = bool(conda) and os.path.realpath(conda or "") == os.path.realpath(info.prefix)
    if not info.is_venv and not is_conda and not (system or break_system_packages):
        raise EnvironmentError_(
            f"the Python at {info.executable} is not a virtual environment, and wherry "
            "changes one only when asked",
            hint="pass `--system` to modify it, or create a virtual environment with "
            "`wherry venv` and install there",
        )
    if not info.is_venv and not break_system_packages:
        marker = Path(str(info.raw["stdlib"])) / "EXTERNALLY-MANAGED"
        if marker.is_file():
            raise EnvironmentError_(
                f"the Python environment at {info.prefix} is externally managed (PEP 668)",
                hint="use a virtual environment (`wherry venv`), or pass "
                "`--break-system-packages` if you are sure",
            )


def site_dirs(info: InterpreterInfo) -> list[Path]:
    """The directories installed distributions live in (purelib, and platlib if different)."""
    dirs = [Path(info.scheme["purelib"])]
    platlib = Path(info.scheme["platlib"])
    if platlib != dirs[0]:
        dirs.append(platlib)
    return [d for d in dirs if d.is_dir() or not os.path.lexists(d)]
