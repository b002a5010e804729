"""Helpers for tests that change a real environment: make one, look inside, snapshot it."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from tests.support import RunWherry


def make_venv(run_wherry: RunWherry, path: Path) -> Path:
    """A real venv made by `wherry venv` for the interpreter running the tests."""
    result = run_wherry("venv", path, "--python", sys.executable)
    assert result.ok, result
    return path


def site_packages(prefix: Path) -> Path:
    return next(prefix.glob("lib/python3.*/site-packages"))


def tree_state(root: Path, *, directories: bool = False) -> dict[str, str]:
    """Every file under `root` (but the lock) with a digest of its content, and with
    `directories` every directory too: equal snapshots mean an unchanged environment."""
    state: dict[str, str] = {}
    for current, dirs, files in os.walk(root):
        if directories:
            for name in dirs:
                state[os.path.relpath(os.path.join(current, name), root)] = "dir"
        for name in files:
            if name == ".lock":
                continue
            path = Path(current) / name
            rel = str(path.relative_to(root))
            state[rel] = ("link:" + os.readlink(path)) if path.is_symlink() else (
                hashlib.sha256(path.read_bytes()).hexdigest())
    return state
