"""Shared test helpers: a real package factory, a real index server and a CLI runner.

The runner lives here rather than in conftest.py so test modules can import its types
(`Result`, `RunWherry`) for annotations; the `run_wherry` fixture is a thin wrapper.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.support.index_server import IndexServer

__all__ = ["MakeIndex", "Result", "RunWherry", "run_wherry"]


@dataclass(frozen=True)
class Result:
    """The outcome of one `python -m wherry` run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when wherry exited 0."""
        return self.returncode == 0

    @property
    def changes(self) -> list[str]:
        """The ` + name==1.0` / ` - name==0.9` lines of an install's summary."""
        return [line for line in self.stderr.splitlines() if line.startswith((" + ", " - "))]

    def __str__(self) -> str:
        """Everything needed to understand a failure, for `assert r.ok, r` messages."""
        return (
            f"$ wherry {' '.join(self.args)}\n[exit {self.returncode}]\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


def run_wherry(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> Result:
    """Run `[sys.executable, "-m", "wherry", *args]` in a subprocess and capture its output.

    The child gets the current (isolated, see conftest.py) `os.environ` updated with
    `env`, where a None value removes the variable. A subprocess rather than an
    in-process call catches what only a real process shows: exit codes, stdout/stderr
    separation, interpreter start-up and import-time side effects.
    """
    child_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    argv = [os.fspath(a) for a in args]
    completed = subprocess.run(
        [sys.executable, "-m", "wherry", *argv],
        cwd=cwd,
        env=child_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Result(tuple(argv), completed.returncode, completed.stdout, completed.stderr)


class RunWherry(Protocol):
    """The type of the `run_wherry` fixture."""

    def __call__(
        self,
        *args: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> Result: ...


class MakeIndex(Protocol):
    """The type of the `make_index` fixture: files or a folder plus IndexServer switches."""

    def __call__(self, files: Path | Iterable[Path] = (), **switches: Any) -> IndexServer: ...
