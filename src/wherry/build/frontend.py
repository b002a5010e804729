"""Calling a PEP 517/660 backend's hooks through pyproject-hooks, in the build env's Python.

Each hook runs in a fresh subprocess of the build environment's interpreter (that is what
pyproject-hooks does; uv and pip too). Its output is captured; at `-v` every line is also
streamed to stderr as it comes, so a long build shows progress. When a hook fails, the
error names the hook and the project and shows the end of the backend's output with a
hint, because that output is the only place the real cause (a missing compiler, a syntax
error in setup.py) is written.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wherry.errors import BuildError
from wherry.output import DEBUG, log

ConfigSettings = Mapping[str, "str | list[str]"]
_SHOWN_LINES = 40


class _HookProcessFailed(Exception):
    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(returncode)
        self.returncode = returncode
        self.output = output


@dataclass
class HookRunner:
    """Runs one hook subprocess with the build environment's variables; keeps its output."""

    environ: Mapping[str, str]
    label: str
    output: list[str] = field(default_factory=list)

    def __call__(self, cmd: Sequence[str], cwd: str | None = None,
                 extra_environ: Mapping[str, str] | None = None) -> None:
        env = dict(self.environ)
        env.update(extra_environ or {})
        stream = log.isEnabledFor(DEBUG)
        with subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
            assert process.stdout is not None
            lines: list[str] = []
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                lines.append(line)
                if stream:
                    with contextlib.suppress(OSError, ValueError):
                        sys.stderr.write(f"{self.label} {line}\n")
            returncode = process.wait()
        self.output.extend(lines)
        if returncode != 0:
            raise _HookProcessFailed(returncode, "\n".join(lines))


@dataclass(frozen=True)
class Backend:
    """A project's backend as run inside one build environment."""

    source: Path
    backend: str
    backend_path: tuple[str, ...]
    python: str
    environ: Mapping[str, str]
    project: str  # for messages: `foo==1.0` or the source path

    def _caller(self, runner: HookRunner) -> Any:
        from pyproject_hooks import BuildBackendHookCaller

        _route_backend_warnings()
        return BuildBackendHookCaller(
            str(self.source), self.backend, backend_path=list(self.backend_path) or None,
            runner=runner, python_executable=self.python,
        )

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Run `hook`; a failure becomes a `BuildError` with the backend's output.

        `HookMissing` passes through for the caller to fall back (metadata -> build)."""
        from pyproject_hooks import BackendUnavailable, HookMissing, UnsupportedOperation

        runner = HookRunner(self.environ, f"[{self.project}]")
        caller = self._caller(runner)
        log.debug("Calling %s of %s for %s", hook, self.backend, self.project)
        try:
            return getattr(caller, hook)(**kwargs)
        except HookMissing:
            raise
        except _HookProcessFailed as exc:
            raise _failure(self, hook, exc.output, f"exit status {exc.returncode}") from None
        except BackendUnavailable as exc:
            output = "\n".join([*runner.output, exc.traceback or ""])
            raise BuildError(
                f"cannot build {self.project}: the build backend `{self.backend}` cannot "
                f"be imported ({getattr(exc, 'message', None) or 'import failed'})" + _tail(output),
                hint="check `build-system.requires` names the package that provides the "
                "backend (with --no-build-isolation it must be installed in the target "
                "environment)",
            ) from None
        except UnsupportedOperation as exc:
            raise _failure(self, hook, exc.traceback, "unsupported operation") from None
        except ValueError as exc:  # pyproject-hooks: a bad backend-path
            raise BuildError(f"cannot build {self.project}: {exc}",
                             hint="`backend-path` entries must be relative paths inside "
                             "the project") from None


_warnings_routed = False


def _route_backend_warnings() -> None:
    """Warnings a backend raises (setuptools' "Editable installation" notice...) come
    back through pyproject-hooks as Python warnings in this process; they belong with
    the rest of the build's output, shown at -v, not on every install's stderr."""
    global _warnings_routed
    if _warnings_routed:
        return
    import warnings

    from pyproject_hooks import BuildBackendWarning

    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if issubclass(category, BuildBackendWarning):
            log.debug("Build backend warning: %s", str(message).strip())
            return
        original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    _warnings_routed = True


def _tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return ""
    shown = lines[-_SHOWN_LINES:]
    skipped = len(lines) - len(shown)
    head = f"\n  [{skipped} earlier lines of output not shown]" if skipped else ""
    return "\n  backend output:" + head + "".join(f"\n  | {line}" for line in shown)


def _failure(backend: Backend, hook: str, output: str, why: str) -> BuildError:
    return BuildError(
        f"failed to build {backend.project}: the `{hook}` hook of `{backend.backend}` "
        f"failed ({why})" + _tail(output),
        hint="this is a problem with the package or with this machine (a missing "
        "compiler or system library), not with wherry; rerun with -v to see the whole "
        "build output, or install a version that has a wheel for this platform",
    )


def hook_environ(bin_dir: str | None, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a hook subprocess runs with: the build env's scripts first on PATH,
    no user site, no inherited PYTHONPATH/PYTHONHOME, no pip configuration pulling in
    other indexes (pip itself is not used)."""
    env = dict(os.environ if base is None else base)
    for name in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV", "VIRTUAL_ENV",
                 "__PYVENV_LAUNCHER__"):
        env.pop(name, None)
    env["PYTHONNOUSERSITE"] = "1"
    if bin_dir is not None:
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env
