"""Runs inside a build environment's interpreter and serves a PEP 517/660 backend's hooks.

Stdlib only, and it must run on Python 3.8+ (a build environment is made for the target
interpreter): no newer syntax or library calls here. `hook_process.py` starts it as
`python hook_server.py BACKEND BACKEND_PATH_JSON` in the project tree.

Why a server: every hook of a setuptools project used to cost a fresh interpreter that
imported setuptools again (~0.3 s each, three times per source). PEP 517 asks frontends to
call each hook in a fresh process all the same, because backends may change process-global
state (setuptools mutates `sys.argv`, distutils globals, `sys.modules` with the project's
own modules; a second `setup()` in one process is known to fail: setuptools#1800,
tox#2712). So the server imports the backend once and then *forks* a child per hook: each
hook starts from the state right after the import, exactly what a fresh process would
have had, and whatever it changes dies with the child. Where there is no `fork` (Windows)
or forking is unsafe (macOS), the server runs the one hook it is asked for and exits
(`"exiting": true`), which is the old one-process-per-hook behaviour.

Protocol: the first line on stdin is a random MARKER (not an argument or a variable: a
hook must not be able to print it); then one JSON request per line, `{"hook": NAME,
"kwargs": {...}}`. The backend's output (stdout and stderr of the server and its
children) goes to stdout; after each hook the server writes `MARKER` and a one-line JSON
reply there, so everything the frontend read before the marker is that hook's output.
Replies, as pyproject-hooks' `_in_process` reports them: `{"return_val": ...}`, or
`no_backend` (with `traceback` and `backend_error`), `hook_missing` (with
`missing_hook_name`), `unsupported` (with `traceback`), or `failed` with the child's
`returncode` when the hook raised or exited (its traceback is in the output, as a fresh
process would have printed it). Each reply also carries the backend's `UserWarning`s.
End of stdin ends the server.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator
from glob import glob
from importlib import import_module
from importlib.machinery import PathFinder
from typing import Any

HOOKS = (
    "get_requires_for_build_wheel", "prepare_metadata_for_build_wheel", "build_wheel",
    "get_requires_for_build_editable", "prepare_metadata_for_build_editable",
    "build_editable", "get_requires_for_build_sdist", "build_sdist", "_supported_features",
)
BUILT_MARKER = "PYPROJECT_HOOKS_ALREADY_BUILT_WHEEL"  # the name pyproject-hooks uses


class BackendUnavailable(Exception):
    def __init__(self, message: str, trace: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.trace = trace


class HookMissing(Exception):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.name = name


class Unsupported(Exception):
    def __init__(self, trace: str) -> None:
        super().__init__(trace)
        self.trace = trace


class _BackendPathFinder:
    """Top-level imports come from `backend-path` first (PEP 517: an in-tree backend MUST
    be loaded from there); failing to find the backend's own package there is fatal."""

    def __init__(self, paths: list[str], module: str) -> None:
        self.paths = paths
        self.module = module
        self.package = module.partition(".")[0]

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if "." in fullname:
            return None
        spec = PathFinder.find_spec(fullname, path=self.paths)
        if spec is None and fullname == self.package:
            raise BackendUnavailable(f"Cannot find module {self.module!r} in {self.paths!r}")
        return spec

    def find_distributions(self, context: Any = None) -> Any:
        from importlib.metadata import DistributionFinder, MetadataPathFinder

        name = context.name if context else None
        return MetadataPathFinder.find_distributions(
            context=DistributionFinder.Context(name=name, path=self.paths))


def load_backend(spec: str, paths: list[str]) -> Any:
    """The backend object named by `module:object.path`, imported (from `paths` first)."""
    module, _, attributes = spec.partition(":")
    if paths:
        sys.meta_path.insert(0, _BackendPathFinder(paths, module))
    try:
        backend = import_module(module)
    except ImportError:
        raise BackendUnavailable(f"Cannot import {module!r}", traceback.format_exc()) from None
    for part in attributes.split(".") if attributes else ():
        backend = getattr(backend, part)
    return backend


# -- the hooks, with pyproject-hooks' fallbacks ----------------------------------------------
def _optional(backend: Any, name: str, config_settings: Any) -> Any:
    hook = getattr(backend, name, None)
    return [] if hook is None else hook(config_settings)


def _metadata_from_wheel(wheel: str, metadata_directory: str) -> str:
    """The fallback of the metadata hooks: build, then unpack the wheel's .dist-info next
    to it, and leave a marker so a later build hook copies this wheel instead."""
    from zipfile import ZipFile

    with open(os.path.join(metadata_directory, BUILT_MARKER), "wb"):
        pass
    with ZipFile(os.path.join(metadata_directory, wheel)) as archive:
        members = [n for n in archive.namelist() if re.match(r"[^/\\]+-[^/\\]+\.dist-info/", n)]
        if not members:
            raise Exception("No .dist-info folder found in wheel")
        archive.extractall(path=metadata_directory, members=members)
    return members[0].split("/")[0]


def _prebuilt(metadata_directory: str | None, wheel_directory: str) -> str | None:
    """The wheel a metadata fallback already built, copied to `wheel_directory`."""
    if not metadata_directory:
        return None
    parent = os.path.dirname(metadata_directory)
    if not os.path.isfile(os.path.join(parent, BUILT_MARKER)):
        return None
    wheels = glob(os.path.join(parent, "*.whl"))
    if len(wheels) != 1:
        print("Found wheel built marker, but no .whl files" if not wheels else
              "Found multiple .whl files; unspecified behaviour. Will call build_wheel.")
        return None
    shutil.copy2(wheels[0], wheel_directory)
    return os.path.basename(wheels[0])


def call_hook(backend: Any, hook: str, kwargs: dict[str, Any]) -> Any:
    """Call `hook` of `backend` with the semantics of pyproject-hooks' `_in_process`."""
    settings = kwargs.get("config_settings")
    if hook == "_supported_features":
        return ["build_editable"] if hasattr(backend, "build_editable") else []
    if hook.startswith("get_requires_for_build_"):
        return _optional(backend, hook, settings)
    if hook.startswith("prepare_metadata_for_build_"):
        kind = hook.rpartition("_")[2]
        directory = kwargs["metadata_directory"]
        prepare = getattr(backend, hook, None)
        if prepare is not None:
            return prepare(directory, settings)
        if not kwargs.get("_allow_fallback", True):
            raise HookMissing()
        build = getattr(backend, "build_" + kind, None)
        if build is None:
            raise HookMissing("build_" + kind)
        return _metadata_from_wheel(build(directory, settings), directory)
    if hook in ("build_wheel", "build_editable"):
        build = getattr(backend, hook, None)
        if build is None:
            raise HookMissing()
        metadata = kwargs.get("metadata_directory")
        return (_prebuilt(metadata, kwargs["wheel_directory"])
                or build(kwargs["wheel_directory"], settings, metadata))
    if hook == "build_sdist":
        unsupported = getattr(backend, "UnsupportedOperation", None)
        try:
            return backend.build_sdist(kwargs["sdist_directory"], settings)
        except Exception as exc:
            if unsupported is not None and isinstance(exc, unsupported):
                raise Unsupported(traceback.format_exc()) from None
            raise
    raise ValueError(f"unknown hook {hook!r}")


def run_hook(backend: Any, hook: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The reply for one hook; an exception other than the protocol's own propagates, so
    the interpreter prints it and exits non-zero, as it would in a fresh process."""
    reply: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        try:
            reply["return_val"] = call_hook(backend, hook, kwargs)
        except HookMissing as exc:
            reply["hook_missing"] = True
            reply["missing_hook_name"] = exc.name or hook
        except Unsupported as exc:
            reply["unsupported"] = True
            reply["traceback"] = exc.trace
        except BackendUnavailable as exc:  # an in-tree module missing from backend-path
            reply["no_backend"] = True
            reply["traceback"] = exc.trace or traceback.format_exc()
            reply["backend_error"] = exc.message
    reply["warnings"] = _warnings(caught)
    return reply


def _warnings(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    return [{"message": str(w.message), "filename": w.filename, "lineno": w.lineno}
            for w in caught if isinstance(w.category, type) and issubclass(w.category,
                                                                           UserWarning)]


# -- the server --------------------------------------------------------------------------------
class Server:
    def __init__(self) -> None:
        self.backend: Any = None
        self.failure: BackendUnavailable | None = None
        self.import_warnings: list[dict[str, Any]] = []
        self.marker = b""
        self.buffer = b""

    def line(self) -> bytes | None:
        """The next line on stdin, read from the file descriptor (not `sys.stdin`, whose
        buffer a forked child would inherit); None at its end."""
        while b"\n" not in self.buffer:
            chunk = os.read(0, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def requests(self) -> Iterator[dict[str, Any]]:
        while True:
            line = self.line()
            if line is None:
                return
            if line.strip():
                request: dict[str, Any] = json.loads(line.decode("utf-8"))
                yield request

    def reply(self, reply: dict[str, Any]) -> None:
        _flush()
        data = self.marker + json.dumps(reply).encode("utf-8") + b"\n"
        while data:
            data = data[os.write(1, data):]

    def serve(self, can_fork: bool) -> None:
        for request in self.requests():
            hook, kwargs = request.get("hook"), request.get("kwargs") or {}
            if hook not in HOOKS:
                self.reply({"failed": True, "returncode": 2, "error": f"unknown hook {hook!r}"})
            elif self.failure is not None:
                self.reply({"no_backend": True, "traceback": self.failure.trace or "",
                            "backend_error": self.failure.message,
                            "warnings": self.import_warnings})
            elif can_fork:
                self.reply(self.forked(hook, kwargs))
            else:
                reply = run_hook(self.backend, hook, kwargs)
                reply["warnings"] = self.import_warnings + reply["warnings"]
                reply["exiting"] = True
                self.reply(reply)
                return

    def forked(self, hook: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run the hook in a child; its reply comes back through a pipe."""
        _flush()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # Exit handlers the backend's import registered (removing a temporary
            # folder it made...) run once, in this process, not at the end of every
            # hook; the hook's own still run when the child exits.
            getattr(atexit, "_clear", lambda: None)()
            os.close(read_end)
            _child(self.backend, hook, kwargs, write_end, self.import_warnings)
        _RUNNING.append(pid)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        _RUNNING.remove(pid)
        if data:
            result: dict[str, Any] = json.loads(data.decode("utf-8"))
            return result
        return {"failed": True, "returncode": _exit_code(status)}


def _child(backend: Any, hook: str, kwargs: dict[str, Any], result_fd: int,
           import_warnings: list[dict[str, Any]]) -> None:
    """Run one hook in a forked child and exit. The hook's own exceptions and `sys.exit`
    are left to the interpreter (traceback, exit status, `atexit`), as in a fresh
    process; stdin is /dev/null so a backend cannot eat the server's requests."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    reply = run_hook(backend, hook, kwargs)
    reply["warnings"] = import_warnings + reply["warnings"]
    data = json.dumps(reply).encode("utf-8")
    with os.fdopen(result_fd, "wb") as pipe:
        pipe.write(data)
    sys.exit(0)


_RUNNING: list[int] = []  # the hook child under way, if any


def _stop(signum: int, _frame: Any = None) -> None:
    """SIGTERM from the frontend (or Ctrl-C here): end the running hook too, then exit;
    the frontend must never leave a build running behind it."""
    for pid in _RUNNING:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)  # reaped here, not left to init as a zombie
    os._exit(128 + signum)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def main(argv: list[str]) -> int:
    spec, paths_json = argv[1:3]
    # The script's own folder holds wherry's modules: it must not shadow the backend's.
    here = os.path.normcase(os.path.realpath(os.path.dirname(os.path.abspath(argv[0]))))
    sys.path[:] = [p for p in sys.path if os.path.normcase(os.path.realpath(p)) != here]
    server = Server()
    with warnings.catch_warnings(record=True) as caught:
        try:
            server.backend = load_backend(spec, json.loads(paths_json))
        except BackendUnavailable as exc:
            server.failure = exc
    server.import_warnings = _warnings(caught)
    server.marker = (server.line() or b"").strip()
    if not server.marker:
        return 0  # the frontend went away before asking anything
    # Not on macOS: a child forked after system frameworks were loaded may crash there
    # (why multiprocessing stopped forking on macOS); one process per hook instead.
    can_fork = hasattr(os, "fork") and sys.platform not in ("win32", "darwin")
    if can_fork:
        signal.signal(signal.SIGTERM, _stop)
    server.serve(can_fork)
    if can_fork:
        # Only the import ran here (hooks ran in children, which exit normally): run its
        # exit handlers and skip tearing down every module, which with setuptools loaded
        # costs ~25 ms that the frontend would wait for after each source.
        atexit._run_exitfuncs()
        _flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        if _RUNNING:  # the server itself (a child's Ctrl-C ends only the child)
            _stop(signal.SIGINT)
        sys.exit(130)
