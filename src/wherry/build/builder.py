"""Turning a source (an sdist, a local tree, a git checkout) into metadata or a wheel.

The order of work follows uv and pip: a cached answer first; then, for metadata, the
sdist's PKG-INFO when PEP 643 makes it trustworthy, else the backend's
`prepare_metadata_for_build_wheel`, and only when the backend lacks that hook a full
`build_wheel` (whose wheel is then kept, so the install does not build it again). Each
source is built under its cache lock; the result is cached before the lock is released,
so a second process waiting on the lock finds it. Hook calls are capped at
`WHERRY_CONCURRENT_BUILDS` at once (default: the number of CPUs), since each one is a
compiler or a Python process.
"""

from __future__ import annotations

import os
import shutil
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import msgspec

from wherry.build.cache import BuiltWheels, SourceId, build_key
from wherry.build.env import BuildEnvironment, BuildEnvironments, environment_key
from wherry.build.frontend import Backend, HookMissing
from wherry.build.options import BuildOptions, canonical_name, concurrent_builds
from wherry.build.project import build_system, pyproject_metadata, static_metadata
from wherry.build.waits import BuildWaits
from wherry.cache.layout import Cache
from wherry.errors import BuildError
from wherry.output import log
from wherry.python.info import InterpreterInfo


class Source(msgspec.Struct):
    """A buildable source. `materialise(dir)` puts the project tree in (or returns an
    existing local tree); `name` is the project name when known, for flags and messages."""

    id: SourceId
    name: str | None
    label: str
    materialise: Callable[[Path], Path]
    pkg_info: bool = False  # an sdist: PKG-INFO may hold static metadata
    in_place: bool = False  # a local tree built where it is (no copy to delete)


def applicable_requirements(requirements: Sequence[str], markers: Mapping[str, str]
                            ) -> list[str]:
    """The requirements whose markers hold for the build interpreter (`extra` empty).

    Backends such as flit-core answer `get_requires_for_build_wheel` with the project's
    own dependencies, extras included (`ruff; extra == "all"`): those would never be
    installed, but keeping them would make the build environment's key differ from the
    one `build-system.requires` already made, and cost a second environment for nothing.
    A requirement that does not parse is kept, so the resolver reports it.
    """
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement

    environment = {**markers, "extra": ""}
    kept = []
    for text in requirements:
        try:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
        except (InvalidRequirement, InvalidMarker, UndefinedComparison,
                UndefinedEnvironmentName):
            pass
        kept.append(text)
    return kept


class Builder:
    """Builds for one target environment during one run (shared by nested builds)."""

    def __init__(
        self,
        target: InterpreterInfo,
        tags: Sequence[str],
        cache: Cache,
        options: BuildOptions,
        environments: BuildEnvironments,
        *,
        stack: tuple[tuple[str, str], ...] = (),
        making: frozenset[tuple[str, ...]] = frozenset(),
        chain: tuple[SourceId, ...] = (),
        shared: _Shared | None = None,
    ) -> None:
        self.target = target
        self.tags = list(tags)
        self.cache = cache
        self.options = options
        self.environments = environments
        self.stack = stack
        # Build environments being made by the builds in `stack`: needing one of them
        # again is a cycle (the nested request runs on another thread, so a lock would
        # not notice it but wait forever).
        self.making = making
        self.chain = chain  # the sources of `stack`, whose locks this chain holds
        self.built = BuiltWheels(cache)
        self._shared = shared or _Shared(threading.Semaphore(
            options.concurrency or concurrent_builds()))

    def child(self, source: Source, environment: tuple[str, ...]) -> Builder:
        """The builder for the build dependencies of `source` (installed into the
        environment keyed `environment`): it knows the chain of builds under way, as
        `(label, canonical name)` pairs, to refuse cycles."""
        entry = (source.label, canonical_name(source.name) if source.name else "")
        return Builder(self.target, self.tags, self.cache, self.options, self.environments,
                       stack=(*self.stack, entry), making=self.making | {environment},
                       chain=(*self.chain, source.id),
                       shared=self._shared)

    def check_cycle(self, name: str) -> None:
        canonical = canonical_name(name)
        if any(entry_name == canonical for _label, entry_name in self.stack):
            chain = " -> ".join([*(label for label, _name in self.stack), name])
            raise BuildError(f"cyclic build dependency: {chain}",
                             hint="one of these packages needs itself to be built; install "
                             "a wheel of it first, or pass --no-build-isolation")

    # -- keys ------------------------------------------------------------------------------
    def key(self, source: Source, *, editable: bool = False) -> str:
        isolated = self.options.isolated(source.name)
        interpreter: dict[str, object] = {
            "implementation": self.target.implementation,
            "version": self.target.full_version,
            "abis": self.target.abis,
            "gil_disabled": bool(self.target.raw.get("gil_disabled")),
            "os": self.target.os,
            "arch": self.target.arch,
        }
        if not isolated:  # the build sees the target's packages: they are part of the key
            interpreter["environment"] = self.target.prefix
            interpreter["installed"] = _installed(self.target, source.name)
        return build_key(tags=self.tags, interpreter=interpreter, isolated=isolated,
                         config_settings=self.options.config_settings,
                         build_constraints=self.options.build_constraints, editable=editable)

    # -- metadata --------------------------------------------------------------------------
    def metadata(self, source: Source) -> bytes:
        """The core metadata of the wheel `source` builds into (see the module docstring)."""
        if source.name:  # before the lock: a cycle would wait on our own lock forever
            self.check_cycle(source.name)
        if source.in_place:  # a local project: its pyproject.toml may say it all
            static = pyproject_metadata(source.materialise(Path()))
            if static is not None:
                log.debug("Using the static metadata of %s (pyproject.toml)", source.label)
                return static
        key = self.key(source)
        found = self._cached_metadata(source, key)
        if found is not None:
            return found
        with self._shared.waits.entering(self.chain, source.id), \
                self.built.lock(source.id, source.label):
            found = self._cached_metadata(source, key)
            if found is not None:
                return found
            self._shared.fresh.add(source.id)
            tree_context = self._tree(source)
            with tree_context as tree:
                if source.pkg_info:
                    pkg_info = tree / "PKG-INFO"
                    data = pkg_info.read_bytes() if pkg_info.is_file() else b""
                    if data and static_metadata(data):
                        log.debug("Using the static metadata of %s (PKG-INFO)", source.label)
                        self.built.store_metadata(source.id, None, data)
                        return data
                data = self._prepare_metadata(source, tree, key, tree_context)
        return data

    def _stale(self, source: Source) -> bool:
        """Under `--refresh`, whether cached results for `source` are still to be redone
        in this run (each source is rebuilt at most once per run)."""
        return self.options.refreshes(source.name) and source.id not in self._shared.fresh

    def _cached_metadata(self, source: Source, key: str) -> bytes | None:
        if self._stale(source):
            return None
        for metadata_key in ((None, key) if source.pkg_info else (key,)):
            data = self.built.find_metadata(source.id, metadata_key)
            if data is not None:
                log.debug("Found cached metadata of %s", source.label)
                return data
        wheel = self.built.find_wheel(source.id, key)
        if wheel is not None:
            return wheel_metadata(wheel)
        return None

    def _prepare_metadata(self, source: Source, tree: Path, key: str,
                          tree_context: _TreeContext) -> bytes:
        """The metadata from the backend. Unless that meant building the wheel, the tree
        and its backend process are kept for the build that usually follows in this run
        (`wheel()`): pip and uv also build where they prepared the metadata, and the
        backend is not started and imported a second time."""
        backend = self._backend(source, tree, "wheel")
        try:
            data, built = self._prepare_metadata_with(source, tree, key, backend)
        except BaseException:
            backend.kill()
            raise
        if built:
            backend.close()
        else:
            self.environments.keep((source.id, key),
                                   _KeptSource(tree_context.detach(), tree, backend))
        return data

    def _prepare_metadata_with(self, source: Source, tree: Path, key: str,
                               backend: Backend) -> tuple[bytes, bool]:
        """The metadata, and whether the wheel was built (and cached) to get it."""
        out = Path(self.cache.tempdir(prefix="metadata-"))
        try:
            with self._shared.slots:
                try:
                    name = backend.call("prepare_metadata_for_build_wheel",
                                        metadata_directory=str(out),
                                        config_settings=self._settings(),
                                        _allow_fallback=False)
                except HookMissing:
                    name = None
            if name is None:
                log.debug("%s has no prepare_metadata_for_build_wheel hook; building it",
                          backend.backend)
                wheel = self._build_in(source, tree, key, backend, editable=False)
                return wheel_metadata(wheel), True
            path = out / str(name) / "METADATA"
            try:
                data = path.read_bytes()
            except OSError:
                raise BuildError(
                    f"the build backend of {source.label} reported metadata in {name} but "
                    "wrote no METADATA there", hint="report this to the project") from None
        finally:
            shutil.rmtree(out, ignore_errors=True)
        self.built.store_metadata(source.id, key, data)
        return data, False

    # -- wheels ----------------------------------------------------------------------------
    def wheel(self, source: Source, *, editable: bool = False) -> Path:
        """A built wheel of `source` in the cache (built now unless already there)."""
        if source.name:
            self.check_cycle(source.name)
        key = self.key(source, editable=editable)
        found = None if self._stale(source) else self.built.find_wheel(source.id, key)
        if found is not None:
            log.debug("Using the cached build of %s (%s)", source.label, found.name)
            return found
        with self._shared.waits.entering(self.chain, source.id), \
                self.built.lock(source.id, source.label):
            found = None if self._stale(source) else self.built.find_wheel(source.id, key)
            if found is not None:
                log.debug("Using the build of %s another process made", source.label)
                return found
            self._shared.fresh.add(source.id)
            kept = None if editable else self.environments.take((source.id, key))
            if isinstance(kept, _KeptSource):  # its metadata was prepared in this run
                try:
                    return self._build_in(source, kept.tree, key, kept.backend,
                                          editable=False)
                finally:
                    kept.close()
            with self._tree(source) as tree:
                kind = "editable" if editable else "wheel"
                with self._backend(source, tree, kind) as backend:
                    return self._build_in(source, tree, key, backend, editable=editable)

    def _build_in(self, source: Source, tree: Path, key: str, backend: Backend, *,
                  editable: bool) -> Path:
        out = Path(self.cache.tempdir(prefix="build-"))
        hook = "build_editable" if editable else "build_wheel"
        try:
            with self._shared.slots:
                log.debug("Building %s%s", source.label, " (editable)" if editable else "")
                name = backend.call(hook, wheel_directory=str(out),
                                    config_settings=self._settings())
            built = out / str(name)
            if not str(name).endswith(".whl") or not built.is_file():
                raise BuildError(f"the `{hook}` hook of {source.label} did not produce a "
                                 f"wheel (it returned {name!r})",
                                 hint="report this to the project")
            return self.built.store_wheel(source.id, key, built)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    # -- environments ----------------------------------------------------------------------
    def _backend(self, source: Source, tree: Path, kind: str) -> Backend:
        """The backend of `source` in the environment its build needs, after
        `get_requires_for_build_{kind}`; the caller closes it (its process)."""
        system = build_system(tree)
        isolated = self.options.isolated(source.name)
        env = self._environment(source, system.requires, isolated)
        backend = Backend(tree, system.backend, system.backend_path, env.python,
                          env.environ(), source.label)
        hook = f"get_requires_for_build_{kind}"
        memo = (source.id, kind, isolated)
        extra = self._shared.requires.get(memo)
        if extra is None:  # asked once per run: metadata and build share the answer
            try:
                extra = [str(r) for r in
                         backend.call(hook, config_settings=self._settings()) or []]
            except BaseException:
                backend.kill()
                raise
            self._shared.requires[memo] = extra
        extra = applicable_requirements(extra, self.target.markers)
        if extra and isolated:
            wanted = sorted({*system.requires, *map(str, extra)})
            if wanted != sorted(set(system.requires)):
                log.debug("%s also needs %s to build", source.label, ", ".join(map(str, extra)))
                backend.close()  # its process runs in the environment without them
                env = self._environment(source, wanted, isolated)
                backend = Backend(tree, system.backend, system.backend_path, env.python,
                                  env.environ(), source.label)
        return backend

    def _environment(self, source: Source, requires: Sequence[str],
                     isolated: bool) -> BuildEnvironment:
        if not isolated:
            return BuildEnvironment(self.target, isolated=False)
        key = environment_key(requires)
        if key in self.making:
            chain = " -> ".join([*(label for label, _name in self.stack), source.label])
            raise BuildError(f"cyclic build dependency: {chain} -> {', '.join(key)}",
                             hint="these packages need each other to be built; install a "
                             "wheel of one of them first, or pass --no-build-isolation")
        return self.environments.get(list(requires), f"build dependencies of {source.label}",
                                     self.child(source, key))

    def _settings(self) -> dict[str, str | list[str]] | None:
        return dict(self.options.config_settings) or None

    # -- source trees ----------------------------------------------------------------------
    def _tree(self, source: Source) -> _TreeContext:
        return _TreeContext(self, source)


class _Shared(msgspec.Struct):
    """What every builder of one run shares: the build slots and the answers of
    `get_requires_for_build_*` per source."""

    slots: threading.Semaphore
    requires: dict[tuple[SourceId, str, bool], list[str]] = msgspec.field(default_factory=dict)
    fresh: set[SourceId] = msgspec.field(default_factory=set)  # rebuilt in this run (--refresh)
    waits: BuildWaits = msgspec.field(default_factory=BuildWaits)  # across concurrent chains


class _KeptSource(msgspec.Struct):
    """A source whose metadata was prepared: its tree (`work`, a copy to delete, if any)
    and its backend process, kept for its build later in the run."""

    work: Path | None
    tree: Path
    backend: Backend

    def close(self) -> None:
        self.backend.close()
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)


class _TreeContext:
    """The project tree of a source for the `with` block; a copy is deleted afterwards."""

    def __init__(self, builder: Builder, source: Source) -> None:
        self.builder = builder
        self.source = source
        self.work: Path | None = None

    def __enter__(self) -> Path:
        if self.source.in_place:
            return self.source.materialise(Path())
        self.work = Path(self.builder.cache.tempdir(prefix="source-"))
        return self.source.materialise(self.work)

    def __exit__(self, *exc: object) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)

    def detach(self) -> Path | None:
        """Hand the copy over to the caller: the `with` block no longer deletes it."""
        work, self.work = self.work, None
        return work


def _installed(env: InterpreterInfo, building: str | None) -> list[str]:
    """The distributions installed in an environment (`name-version.dist-info`...) but
    the one being built: a build without isolation compiled against numpy 1.x must not
    be reused once numpy 2 is installed (uv reuses it)."""
    found: set[str] = set()
    own = canonical_name(building) if building else None
    for key in ("purelib", "platlib"):
        try:
            names = os.listdir(env.scheme[key])
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")) and (
                own is None or canonical_name(name.rpartition(".")[0].split("-")[0]) != own
            ):
                found.add(name)
    return sorted(found)


def wheel_metadata(wheel: Path) -> bytes:
    """METADATA of a wheel on disk (a built one: its `.dist-info` is trusted)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist()
                     if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BuildError(f"the built wheel {wheel.name} has no single METADATA")
            return archive.read(names[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise BuildError(f"cannot read the built wheel {wheel.name}: {exc}") from None
