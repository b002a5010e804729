"""Build environments: a fresh venv per set of build requirements, reused within a run.

An isolated build gets its own venv for the *target* interpreter, made by wherry's venv
code (about a millisecond, no subprocess), into which `build-system.requires` and then
whatever `get_requires_for_build_*` adds are installed by the `Installer` the command
layer provides: the same resolver, indexes and archive cache as the install itself, so
build dependencies are hard-linked from the cache, never downloaded twice. Environments
are keyed by their requirement set and kept until the run ends (uv#14338: reusing them
between resolution and installation is a large saving). Without isolation the target
environment itself is used and nothing is installed into it (pip and uv agree).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from wherry.build.frontend import hook_environ
from wherry.output import log
from wherry.python.info import InterpreterInfo

if TYPE_CHECKING:
    from wherry.build.builder import Builder


class BuildEnvironment(msgspec.Struct, frozen=True):
    """Where a backend runs: its interpreter and prefix, as an install target too."""

    info: InterpreterInfo
    isolated: bool

    @property
    def python(self) -> str:
        return self.info.executable

    @property
    def bin_dir(self) -> str:
        return str(self.info.scheme["scripts"])

    def environ(self) -> dict[str, str]:
        return hook_environ(self.bin_dir)


KEEP_AT_MOST = 8


class Closable(Protocol):
    def close(self) -> None: ...


class Installer(Protocol):
    """"Install these requirements into this environment" (commands/build_env.py).

    `constraints` are the `--build-constraint` requirement strings; `why` names the build
    for messages ("build dependencies of foo==1.0"); `builder` builds any of them that
    has no wheel (it knows which builds are under way, to refuse cycles)."""

    def install(self, requirements: Sequence[str], constraints: Sequence[str],
                environment: BuildEnvironment, why: str, builder: Builder) -> None: ...


def venv_info(base: InterpreterInfo, root: Path) -> InterpreterInfo:
    """The `InterpreterInfo` of a fresh venv at `root` for `base`, derived without running
    it: the same interpreter, markers and tags; its own prefix, scheme and executable."""
    raw = dict(base.raw)
    scheme = {key: str(root / relative) for key, relative in base.venv_scheme.items()}
    base_sites = {base.scheme["purelib"], base.scheme["platlib"]}
    raw.update(
        executable=str(root / base.venv_scheme["scripts"] / "python"),
        prefix=str(root), scheme=scheme,
        sys_path=[p for p in base.sys_path if p not in base_sites] + [scheme["purelib"]],
    )
    raw.pop("install_directory", None)
    return InterpreterInfo(raw)


def create_venv(base: InterpreterInfo, root: Path) -> InterpreterInfo:
    """Write a bare venv (no activation scripts: nothing sources them) at `root`."""
    from wherry.python.venv import TemplateSet, VenvOptions, base_interpreter, plan_venv, write_venv

    layout = plan_venv(base, root, base_interpreter(base), TemplateSet((), True), VenvOptions())
    write_venv(layout)
    return venv_info(base, root)


def environment_key(requirements: Sequence[str]) -> tuple[str, ...]:
    """Build environments with the same requirement set are one environment."""
    return tuple(sorted(set(requirements)))


class BuildEnvironments:
    """The isolated build environments of one run, keyed by requirement set.

    Thread-safe: several builds may ask for the same environment at once; one creates
    it, the others wait. Every environment is removed by `close()`, after the backend
    processes kept for later builds (`keep`/`take`, see builder.py) are ended."""

    def __init__(self, base: InterpreterInfo, installer: Installer,
                 make_dir: Callable[[], Path], constraints: Sequence[str] = ()) -> None:
        self.base = base
        self.installer = installer
        self.constraints = tuple(constraints)
        self._make_dir = make_dir
        self._lock = threading.Lock()
        self._envs: dict[tuple[str, ...], BuildEnvironment] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._dirs: list[Path] = []
        self._kept: dict[Any, Closable] = {}

    def get(self, requirements: Sequence[str], why: str, builder: Builder) -> BuildEnvironment:
        """An environment with exactly `requirements` installed (made on first use)."""
        key = environment_key(requirements)
        with self._lock:
            env = self._envs.get(key)
            if env is not None:
                return env
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                env = self._envs.get(key)
            if env is not None:
                log.debug("Reusing the build environment for %s", _describe(key))
                return env
            root = self._make_dir()
            self._dirs.append(root)
            digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:8]
            log.debug("Creating a build environment (%s) for %s", digest, _describe(key))
            info = create_venv(self.base, root)
            env = BuildEnvironment(info, isolated=True)
            if key:
                self.installer.install(list(key), self.constraints, env, why, builder)
            with self._lock:
                self._envs[key] = env
            return env

    def keep(self, key: Any, item: Closable) -> None:
        """Hold `item` (a source's tree and backend process in one of these environments)
        for `take(key)` later in the run; the oldest is closed beyond `KEEP_AT_MOST`, so
        idle backend processes cannot pile up during a long resolution."""
        with self._lock:
            old = self._kept.pop(key, None)
            self._kept[key] = item
            extra = list(self._kept)[:-KEEP_AT_MOST] if len(self._kept) > KEEP_AT_MOST else []
            dropped = [self._kept.pop(k) for k in extra]
        for stale in [*dropped, *([old] if old is not None else [])]:
            stale.close()

    def take(self, key: Any) -> Closable | None:
        with self._lock:
            return self._kept.pop(key, None)

    def close(self) -> None:
        with self._lock:
            kept = list(self._kept.values())
            self._kept.clear()
        for item in kept:  # their processes run in the environments removed below
            item.close()
        for directory in self._dirs:
            shutil.rmtree(directory, ignore_errors=True)
        self._dirs.clear()
        self._envs.clear()

    @contextlib.contextmanager
    def session(self) -> Iterator[BuildEnvironments]:
        try:
            yield self
        finally:
            self.close()


def _describe(key: Sequence[str]) -> str:
    return ", ".join(key) if key else "no requirements"
