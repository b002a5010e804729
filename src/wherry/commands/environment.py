"""Choosing and checking the environment a modifying command acts on."""

from __future__ import annotations

import os
from pathlib import Path

from wherry.cache.layout import Cache
from wherry.errors import EnvironmentError_
from wherry.python.discovery import find_environment
from wherry.python.info import InterpreterInfo


def target_environment(
    python: str | None,
    cache: Cache,
    *,
    system: bool,
    break_system_packages: bool,
    target: Path | None = None,
    prefix: Path | None = None,
) -> InterpreterInfo:
    """The environment to modify, refusing PEP 668 externally managed ones unless told.

    With `target` or `prefix` (`--target`/`--prefix`) the interpreter only supplies the
    markers, tags and install scheme: files go into that directory, so neither a virtual
    environment nor `--system` is needed, and PEP 668 does not apply (as in uv).
    Changes left half-done by a killed wherry process are undone first.
    """
    if target is not None or prefix is not None:
        from wherry.errors import InterpreterNotFound

        try:
            info = find_environment(python, cache, system=system)
        except InterpreterNotFound:
            if python or system:
                raise
            info = find_environment(None, cache, system=True)
        info = install_directory(info, target=target, prefix=prefix)
    else:
        info = find_environment(python, cache, system=system)
        check_modifiable(info, system=system, break_system_packages=break_system_packages)
    recover_interrupted_changes(Path(info.prefix))
    return info


def install_directory(
    info: InterpreterInfo, *, target: Path | None = None, prefix: Path | None = None
) -> InterpreterInfo:
    """`info` installing into a plain directory: `--target DIR` puts packages in DIR itself
    (scripts in DIR/bin, data in DIR), `--prefix DIR` uses the interpreter's scheme
    relative to DIR. Its `prefix` becomes DIR (the lock and stash live there), so installed
    packages are looked up in DIR only."""
    raw = dict(info.raw)
    if target is not None:
        root = os.path.abspath(target)
        scheme = {"purelib": root, "platlib": root, "scripts": os.path.join(root, "bin"),
                  "data": root, "include": os.path.join(root, "include")}
    else:
        assert prefix is not None
        root = os.path.abspath(prefix)
        scheme = {key: os.path.normpath(os.path.join(root, relative))
                  for key, relative in info.venv_scheme.items()}
    raw["scheme"] = scheme
    raw["prefix"] = root
    raw["install_directory"] = "target" if target is not None else "prefix"
    return InterpreterInfo(raw)


def recover_interrupted_changes(prefix: Path) -> None:
    """Undo what a killed wherry process left half-done in `prefix` (see transaction.py).
    Costs one directory listing when there is nothing to do (and imports nothing: this
    is on the no-op path)."""
    try:
        names = os.listdir(prefix)
    except OSError:
        return
    if not any(n.startswith(".wherry-stash-") for n in names):  # transaction.STASH_PREFIX
        return
    from wherry.install.lock import environment_lock
    from wherry.install.transaction import recover_interrupted

    with environment_lock(prefix):
        recover_interrupted(prefix)


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
