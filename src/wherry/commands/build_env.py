"""One run's source builds, wired to the resolver and installer (DESIGN.md section 2).

`build/` knows how to build but not how to install; this module gives it an `Installer`
that installs build requirements with the same pipeline as `pip install` itself
(`resolve_for` -> `plan_changes` -> `execute_plan`): the same indexes, find-links,
binary policy and network settings, and wheels hard-linked from the archive cache. The
`BuildContext` holds what a run shares: the `Builder`, its build environments, the
direct references prepared before resolution, and the sdists downloaded for metadata
(kept for the build that follows).

With `build_ahead` (an install that will build what it resolves), each source whose
metadata the resolution needed starts its wheel build at once, on a thread of its own,
instead of after the whole resolution: an sdist whose metadata was static (PKG-INFO)
made no build environment yet, and its environment, `get_requires_for_build_wheel` and
build then overlap the rest of the resolution. The install takes that build's result
(or its error, raised as if it had built then). A build the resolution ends up not
needing is a correct cache entry all the same (keyed by the source); a run that fails
cancels the builds not yet started and waits for those running (a Ctrl-C stops their
backends too).
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wherry.build.options import BuildOptions, concurrent_builds
from wherry.cache.entry import file_sha256
from wherry.cache.layout import Cache
from wherry.errors import BuildError, WherryError
from wherry.futures import Future
from wherry.http.client import HttpClient, file_url_to_path
from wherry.index.models import DistFile
from wherry.output import Printer, log
from wherry.platform.targets import Target
from wherry.python.info import InterpreterInfo
from wherry.resolve.candidates import Candidate
from wherry.resolve.metadata import CoreMetadata
from wherry.settings import IndexSettings
from wherry.workers import Workers

if TYPE_CHECKING:
    from wherry.build.builder import Builder, Source
    from wherry.build.cache import SourceId
    from wherry.build.env import BuildEnvironment
    from wherry.commands.install import InstallOptions


class EnvironmentInstaller:
    """`build.env.Installer`: resolve and install build requirements into a build env."""

    def __init__(self, settings: IndexSettings, cache: Cache, options: InstallOptions) -> None:
        self.settings = settings
        self.cache = cache
        self.options = _build_env_options(options)

    def install(self, requirements: Sequence[str], constraints: Sequence[str],
                environment: BuildEnvironment, why: str, builder: Builder) -> None:
        from wherry.commands.pipeline import execute_plan, plan_changes, resolve_for
        from wherry.platform.targets import target_for
        from wherry.requirements.parse import RequirementsSpec, parse_requirement

        spec = RequirementsSpec()
        try:
            spec.requirements = [parse_requirement(r, why) for r in requirements]
            spec.constraints = [parse_requirement(c, "--build-constraint") for c in constraints]
        except WherryError as exc:
            raise BuildError(f"invalid build requirement: {exc.message}", hint=exc.hint) from None
        target = target_for(environment.info)
        context = BuildContext(environment.info, target, self.settings, self.cache,
                               self.options, builder=builder)
        log.debug("Installing %s: %s", why, ", ".join(requirements))
        try:
            resolution, client = resolve_for(target, spec, self.settings, self.cache, {},
                                             self.options, builds=context)
            try:
                plan = plan_changes(resolution, {}, set())
                execute_plan(environment.info, plan, self.cache, client, Printer(quiet=True),
                             self.options, builds=context)
            finally:
                client.close()
        except BuildError:
            raise
        except WherryError as exc:
            raise BuildError(f"cannot install the {why}: {exc.message}",
                             hint=exc.hint) from None
        finally:
            context.close(environments=False)


def _build_env_options(options: InstallOptions) -> InstallOptions:
    """The install options for a build environment: the user's sources, network and
    binary policy; none of the changes asked of the target (upgrade, reinstall...)."""
    sub = copy.copy(options)
    sub.no_deps = False
    sub.dry_run = False
    sub.upgrade = False
    sub.upgrade_packages = []
    sub.reinstall = False
    sub.reinstall_packages = []
    sub.compile_bytecode = False
    sub.target = None
    sub.prefix = None
    sub.python_platform = None  # a build environment runs on this machine
    sub.python_version = None
    sub.editables = []
    for name in ("override_files", "exclude_files", "extras", "groups"):
        if hasattr(sub, name):
            setattr(sub, name, [])
    if hasattr(sub, "all_extras"):
        sub.all_extras = False
    return sub


class BuildContext:
    """What one run shares for builds (see the module docstring); close it at the end."""

    def __init__(
        self,
        env: InterpreterInfo,
        target: Target,
        settings: IndexSettings,
        cache: Cache,
        options: InstallOptions,
        *,
        builder: Builder | None = None,
        build_ahead: bool = False,
    ) -> None:
        self.env = env
        self.target = target
        self.cache = cache
        self.options = options
        self.settings = settings
        self._build_options: BuildOptions | None = None
        # Made on first use: an install of wheels only never builds, and never imports
        # the build machinery (`build/`).
        self._builder = builder
        # Not `_lock`: `start_build` reads `builder` while holding that one.
        self._builder_lock = threading.Lock()
        # Direct references, prepared before resolution (commands/direct.py).
        self.direct: dict[str, tuple[Candidate, CoreMetadata]] = {}
        self.direct_sources: dict[str, Source] = {}
        self.client: HttpClient | None = None
        self._lock = threading.Lock()
        self._sdists: dict[str, tuple[Path, str]] = {}
        self._temporary: list[Path] = []
        self.build_ahead = build_ahead
        self._ahead: dict[tuple[SourceId, bool], Future[Path]] = {}
        self._ahead_pool: Workers | None = None

    @property
    def build_options(self) -> BuildOptions:
        if self._build_options is None:
            self._build_options = getattr(self.options, "build_options", None) or BuildOptions()
        return self._build_options

    @property
    def builder(self) -> Builder:
        """The run's `Builder` (and its build environments), made when first needed."""
        with self._builder_lock:
            if self._builder is None:
                from wherry.build.builder import Builder
                from wherry.build.env import BuildEnvironments

                installer = EnvironmentInstaller(self.settings, self.cache, self.options)
                environments = BuildEnvironments(
                    self.env, installer, lambda: self.cache.tempdir(prefix="build-env-"),
                    constraints=self.build_options.build_constraints)
                tags = [str(tag) for tag in self.target.tags.tags]
                self._builder = Builder(self.env, tags, self.cache, self.build_options,
                                        environments)
            return self._builder

    def close(self, *, environments: bool = True) -> None:
        if self._ahead_pool is not None:  # before the environments they build in go
            self._ahead_pool.shutdown(wait=True, cancel_futures=True)
            self._ahead_pool = None
        if environments and self._builder is not None:
            self._builder.environments.close()
        for directory in self._temporary:
            shutil.rmtree(directory, ignore_errors=True)
        self._temporary.clear()

    def temporary_dir(self, prefix: str) -> Path:
        path = self.cache.tempdir(prefix=prefix)
        self._temporary.append(path)
        return path

    # -- index sdists ----------------------------------------------------------------------
    def metadata(self, file: DistFile, client: HttpClient) -> bytes:
        """The METADATA of an index file: a wheel's own, or an sdist's (built if need be)."""
        if file.is_wheel:
            from wherry.index.metadata import wheel_metadata

            return wheel_metadata(file, client, self.cache)
        source = self.sdist_source(file, client)
        data = self.builder.metadata(source)
        _check_sdist_metadata(data, file.filename)
        self.start_build(source)
        return data

    def start_build(self, source: Source, *, editable: bool = False) -> None:
        """With `build_ahead`, start building `source` now (see the module docstring)."""
        if not self.build_ahead:
            return
        key = (source.id, editable)
        with self._lock:
            if key in self._ahead:
                return
            if self._ahead_pool is None:
                self._ahead_pool = Workers(
                    self.build_options.concurrency or concurrent_builds(), "wherry-build-ahead")
            log.debug("Building %s ahead of the install", source.label)
            self._ahead[key] = self._ahead_pool.submit(self.builder.wheel, source,
                                                       editable=editable)

    def sdist_source(self, file: DistFile, client: HttpClient) -> Source:
        """A `Source` for an sdist listed by an index or find-links location."""
        from packaging.utils import parse_sdist_filename

        from wherry.build.archive import unpack_sdist
        from wherry.build.builder import Source
        from wherry.build.cache import source_for_sdist

        name, version = parse_sdist_filename(file.filename)
        label = f"{name}=={version}"
        path, sha256 = self._sdist_file(file, client)
        return Source(source_for_sdist(sha256, label), str(name), label,
                      lambda work: unpack_sdist(path, work), pkg_info=True)

    def _sdist_file(self, file: DistFile, client: HttpClient) -> tuple[Path, str]:
        """The sdist on disk and its sha256: a local file as is; a remote one downloaded
        once into the cache when the index publishes its hash, else once per run."""
        with self._lock:
            found = self._sdists.get(file.url)
        if found is not None:
            return found
        if file.url.startswith("file:"):
            path = file_url_to_path(file.url)
            result = (path, hash_file(path))
            if "sha256" in file.hashes and file.hashes["sha256"].lower() != result[1]:
                from wherry.errors import HashMismatch

                raise HashMismatch(f"{file.filename} does not match the hash the index lists")
        else:
            known = file.hashes.get("sha256")
            if known is not None:
                path = self.builder.built.sdist_path(known, file.filename)
                if not path.is_file():
                    self._download(file, client, path)
                result = (path, known.lower())
            else:
                path = self.temporary_dir("sdist-") / file.filename
                sha256 = client.download(file.url, path, hashes=file.hashes)
                result = (path, sha256)
        with self._lock:
            self._sdists[file.url] = result
        return result

    def _download(self, file: DistFile, client: HttpClient, path: Path) -> None:
        work = self.cache.tempdir(prefix="sdist-")
        try:
            log.debug("Downloading %s", file.filename)
            client.download(file.url, work / file.filename, hashes=file.hashes)
            path.parent.mkdir(parents=True, exist_ok=True)
            (work / file.filename).replace(path)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- building for the install ------------------------------------------------------------
    def source_of(self, candidate: Candidate, client: HttpClient) -> Source:
        if candidate.direct is not None:
            return self.direct_sources[candidate.name]
        return self.sdist_source(candidate.wheel, client)

    def build(self, candidate: Candidate, client: HttpClient) -> Path:
        """The built wheel of a candidate that needs a build (cached or built now)."""
        editable = candidate.direct is not None and candidate.direct.editable
        source = self.source_of(candidate, client)
        with self._lock:
            ahead = self._ahead.pop((source.id, editable), None)
        if ahead is not None:
            return ahead.result()
        return self.builder.wheel(source, editable=editable)


def _check_sdist_metadata(data: bytes, filename: str) -> None:
    from packaging.utils import canonicalize_name, canonicalize_version, parse_sdist_filename

    from wherry.index.metadata import metadata_name_version

    name, version = parse_sdist_filename(filename)
    meta_name, meta_version = metadata_name_version(data)
    if meta_name is None or canonicalize_name(meta_name) != name or meta_version is None \
            or canonicalize_version(meta_version) != canonicalize_version(version):
        raise BuildError(
            f"the metadata of {filename} describes {meta_name} {meta_version}, not the "
            f"{name} {version} its file name says",
            hint="the source distribution is mislabelled; report it to the project")


def hash_file(path: Path) -> str:
    """The sha256 of a source file, or a one-paragraph error if it cannot be read."""
    try:
        return file_sha256(path)
    except OSError as exc:
        raise BuildError(f"cannot read {path}: {exc.strerror or exc}") from None


__all__ = ["BuildContext", "EnvironmentInstaller"]
