"""Calling a PEP 517/660 backend's hooks, in the build env's Python.

All the hooks one source needs in one build environment go to one backend process
(`hook_process.py` starts `hook_server.py`), which imports the backend once and runs each
hook in a forked child: the isolation of a fresh process per hook (what PEP 517 asks, and
what pyproject-hooks, pip and uv do) without paying for a new interpreter and a new
`import setuptools` per hook. Each hook's output is captured; at `-v` every line is also
streamed to stderr as it comes, so a long build shows progress. When a hook fails, the
error names the hook and the project and shows the end of the backend's output with a
hint, because that output is the only place the real cause (a missing compiler, a syntax
error in setup.py) is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wherry.build.hook_process import HookProcess, HookProcessDied
from wherry.errors import BuildError
from wherry.output import log

ConfigSettings = Mapping[str, "str | list[str]"]
_SHOWN_LINES = 40


class HookMissing(Exception):
    """The backend lacks an optional hook (and its fallback was not allowed)."""

    def __init__(self, hook: str) -> None:
        super().__init__(hook)
        self.hook = hook


@dataclass
class Backend:
    """A project's backend as run inside one build environment: one backend process for
    all its hook calls, ended by `close()` (or the end of a `with` block)."""

    source: Path
    backend: str
    backend_path: tuple[str, ...]
    python: str
    environ: Mapping[str, str]
    project: str  # for messages: `foo==1.0` or the source path
    _process: HookProcess | None = field(default=None, init=False, repr=False, compare=False)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.kill()

    def close(self) -> None:
        if self._process is not None:
            self._process.close()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _hook_process(self) -> HookProcess:
        if self._process is None:
            try:
                paths = [backend_path_entry(self.source, p) for p in self.backend_path]
            except ValueError as exc:
                raise BuildError(f"cannot build {self.project}: {exc}",
                                 hint="`backend-path` entries must be relative paths inside "
                                 "the project") from None
            self._process = HookProcess(self.python, self.source.absolute(), self.environ,
                                        self.backend, paths, f"[{self.project}]")
        return self._process

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Run `hook`; a failure becomes a `BuildError` with the backend's output.

        `HookMissing` passes through for the caller to fall back (metadata -> build)."""
        process = self._hook_process()
        for name in ("metadata_directory", "wheel_directory", "sdist_directory"):
            if kwargs.get(name) is not None:
                kwargs[name] = os.path.abspath(kwargs[name])
        log.debug("Calling %s of %s for %s", hook, self.backend, self.project)
        try:
            reply = process.call(hook, kwargs)
        except HookProcessDied as exc:
            raise _failure(self, hook, "\n".join(exc.output),
                           f"exit status {exc.returncode}") from None
        data = reply.data
        for warning in data.get("warnings") or ():
            # Warnings a backend raises (setuptools' "Editable installation" notice...)
            # belong with the rest of the build's output, shown at -v.
            log.debug("Build backend warning: %s", str(warning.get("message", "")).strip())
        if data.get("failed"):
            raise _failure(self, hook, "\n".join(reply.output),
                           f"exit status {data.get('returncode')}")
        if data.get("hook_missing"):
            raise HookMissing(str(data.get("missing_hook_name") or hook))
        if data.get("no_backend"):
            output = "\n".join([*reply.output, str(data.get("traceback") or "")])
            raise BuildError(
                f"cannot build {self.project}: the build backend `{self.backend}` cannot "
                f"be imported ({data.get('backend_error') or 'import failed'})" + _tail(output),
                hint="check `build-system.requires` names the package that provides the "
                "backend (with --no-build-isolation it must be installed in the target "
                "environment)",
            )
        if data.get("unsupported"):
            raise _failure(self, hook, str(data.get("traceback") or ""),
                           "unsupported operation")
        return data.get("return_val")


def backend_path_entry(tree: Path, entry: str) -> str:
    """A `backend-path` entry as an absolute path; it must be relative and stay inside
    the project (PEP 517), else `ValueError`."""
    if os.path.isabs(entry):
        raise ValueError("paths must be relative")
    root = os.path.abspath(tree)
    path = os.path.normpath(os.path.join(root, entry))
    if os.path.commonpath([os.path.normcase(root), os.path.normcase(path)]) != \
            os.path.normcase(root):
        raise ValueError("paths must be inside source tree")
    return path


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
