"""Project pages and metadata, fetched in the background before the solver asks.

The solver runs on one thread and asks for one thing at a time; waiting on each request
in turn is what makes naive resolvers slow. `PackageData` memoises every answer behind a
future: when a package is first seen, its page is fetched and the metadata of the
candidate the solver will try first (`FirstChoice`) is fetched right after, on a thread
pool, while the solver works on other packages. The solver then usually finds the answer
already there.

The solver only learns a package's dependencies when it decides that package, which can be
long after the package's page arrived (it waits on other requests meanwhile), so deep
dependencies would be asked for late. `PackageData` therefore also reads ahead: the
dependencies of each first-choice candidate (`read_ahead_for`: the provider's own marker,
exclude and override rules) get their pages and first-choice metadata fetched too,
recursively, each name once. This only warms the memo: the solver still asks for
everything it uses, so a guess that turns out wrong costs a request, never an answer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial

import msgspec
from packaging.utils import canonicalize_name
from packaging.version import Version

from wherry.futures import Future
from wherry.index.models import DistFile
from wherry.output import trace
from wherry.platform.tags import TargetTags
from wherry.resolve.candidates import BinaryPolicy, Candidate, ProjectVersions, build_versions
from wherry.resolve.metadata import CoreMetadata, parse_core_metadata
from wherry.resolve.priority_pool import GUESSED, NAMED, URGENT, PriorityPool, Task
from wherry.resolve.provider import (
    ProviderConfig,
    allows_prereleases,
    dependency_requirements,
    in_solver_order,
    tries_lowest_first,
)
from wherry.resolve.ranges import PubGrubRange

#: One dependency read ahead: its canonical name, the extras requested on it and the
#: versions its requirement allows (None: any).
Dependency = tuple[str, frozenset[str], Container[Version] | None]
#: The dependencies of a distribution's metadata, or (given an extra) of that extra.
ReadAhead = Callable[[CoreMetadata, str | None], Iterable[Dependency]]


class FirstChoice(msgspec.Struct, frozen=True):
    """Which candidate the solver tries first for a project, so the prefetch fetches that
    one and not a version the solver will never ask about. Mirrors the provider's order
    (provider.WherryProvider._choose): an installed version the requirement allows needs
    nothing; a preferred pin (an existing `-o` file's) the requirement allows comes
    first; then the newest version, or the oldest under `--resolution lowest`, and under
    `lowest-direct` for root requirements only; pre-releases only where the pre-release
    mode allows them (`allow`, or a requirement naming one under `explicit` modes)."""

    resolution: str = "highest"
    roots: Container[str] = frozenset()
    preferences: Mapping[str, Version] = msgspec.field(default_factory=dict)
    installed: Mapping[str, Version] = msgspec.field(default_factory=dict)
    prerelease: str = "if-necessary-or-explicit"
    explicit_prereleases: Container[str] = frozenset()

    def candidate(self, project: ProjectVersions,
                  allowed: Container[Version] | None) -> Candidate | None:
        """The candidate whose metadata the solver will ask for first; None when it
        will ask for none (an installed version fits) or the answer is unclear."""
        name = project.name

        def fits(version: Version) -> bool:
            return allowed is None or version in allowed

        installed = self.installed.get(name)
        if installed is not None and fits(installed):
            return None
        allow_pre = allows_prereleases(self.prerelease, name, self.explicit_prereleases)
        preferred = self.preferences.get(name)
        if preferred is not None and fits(preferred) and (
                allow_pre or not preferred.is_prerelease or self.prerelease != "disallow"):
            found = project.candidates.get(preferred)
            if found is not None:
                return found
        lowest_first = tries_lowest_first(self.resolution, name, self.roots)
        for candidate in in_solver_order(project, lowest_first):
            version = candidate.version
            if (allow_pre or not version.is_prerelease) and fits(version):
                return candidate
        return None


def read_ahead_for(config: ProviderConfig) -> ReadAhead:
    """The read-ahead's view of a distribution's dependencies: the provider's own rules
    (`dependency_requirements`: markers for the target, excludes, overrides)."""

    def dependencies(metadata: CoreMetadata, extra: str | None) -> Iterable[Dependency]:
        found: list[Dependency] = []
        for name, _written, effective in dependency_requirements(config, metadata, extra):
            allowed = PubGrubRange.from_specifier(effective.specifier)
            extras = frozenset(str(canonicalize_name(e)) for e in effective.extras)
            found.append((name, extras, allowed))
        return found

    return dependencies


class PackageData:
    """Thread-safe, future-backed memo of project versions and candidate metadata.

    Work runs on a `PriorityPool`: what the solver waits on first, then what it named,
    then the read-ahead's guesses, so guessing never delays an answer the solver needs."""

    def __init__(
        self,
        files_for: Callable[[str], Sequence[DistFile]],
        fetch_metadata: Callable[[DistFile], bytes],
        tags: TargetTags,
        python_version: Version,
        *,
        workers: int = 16,
        exclude_newer: datetime | None = None,
        first_match: bool = False,
        direct: Mapping[str, tuple[Candidate, CoreMetadata]] | None = None,
        policy: BinaryPolicy | None = None,
        first_choice: FirstChoice | None = None,
        read_ahead: ReadAhead | None = None,
        constraints: Mapping[str, PubGrubRange] | None = None,
    ) -> None:
        self._first_choice = first_choice or FirstChoice()
        # `-c` ranges: the solver never takes a version outside them, so neither does a
        # first choice (a root `foo` constrained to `<2` must not build foo 2.0's sdist).
        self._constraints = dict(constraints or {})
        # Without `read_ahead`, only what the solver names is fetched (no dependencies
        # of dependencies before the solver decides their parents).
        self._read_ahead = read_ahead
        # Direct references (`name @ URL`, paths, `-e`): each is the only version of its
        # name, with metadata the command layer already read or built.
        self._direct = dict(direct or {})
        self._policy = None if policy is None or policy.is_default else policy
        self._first_match = first_match
        self._exclude_newer = exclude_newer
        self._files_for = files_for
        self._fetch_metadata = fetch_metadata
        self._tags = tags
        self._python_version = python_version
        self._pool = PriorityPool(workers, thread_name_prefix="wherry-prefetch")
        self._lock = threading.Lock()
        self._closed = False
        self._versions: dict[str, Task[ProjectVersions]] = {}
        self._metadata: dict[str, Task[CoreMetadata]] = {}
        # (name, allowed versions, extras) -> the most urgent priority it was wanted at.
        self._likely: dict[tuple[str, Container[Version] | None, frozenset[str | None]],
                           int] = {}
        # Read-ahead memos: the (metadata, extra) pairs whose dependencies were read (None:
        # the distribution itself), and per name the extras already read ahead.
        self._read: set[tuple[str, str | None]] = set()
        self._ahead: dict[str, set[str | None]] = {}

    def close(self) -> None:
        """Stop: queued fetches are cancelled and the read-ahead starts nothing new."""
        self._closed = True
        self._pool.shutdown()

    def _versions_future(self, name: str, priority: int) -> Future[ProjectVersions]:
        with self._lock:
            task = self._versions.get(name)
            if task is None:
                task = self._pool.submit(partial(self._load_versions, name), priority)
                self._versions[name] = task
                return task
        if not task.done():
            task.hurry(priority)
        return task

    def _load_versions(self, name: str) -> ProjectVersions:
        direct = self._direct.get(name)
        if direct is not None:
            candidate = direct[0]
            return ProjectVersions.of(name, [candidate])
        files = self._files_for(name)
        project = build_versions(
            name, files, self._tags, self._python_version, exclude_newer=self._exclude_newer,
            first_match=self._first_match, policy=self._policy,
        )
        # Not `len(project.candidates)`: that would decide every version (candidates.py).
        trace("Found %d versions of %s", len(project.all_versions()), name)
        return project

    def _fetch_likely(
        self, allowed: Container[Version] | None, priority: int, builds: bool,
        extras: frozenset[str | None], future: Future[ProjectVersions],
    ) -> None:
        """Once a page is in, fetch the metadata of the candidate the solver will try
        first (`FirstChoice`: the newest stable version the requirement allows, unless a
        resolution mode, a preference or an installed version says otherwise), and
        then read ahead through its dependencies (those of `extras` too; None stands for
        the distribution itself). Runs as a done callback, so no pool thread ever blocks
        waiting for another.

        A candidate that needs a build (an sdist) gets its metadata built ahead only when
        `builds` says so: for root requirements, whose likely candidate the solver is all
        but certain to ask about, so their builds run side by side instead of one after
        another. Deeper down a build costs seconds and may never be needed."""
        if self._closed or future.cancelled() or future.exception() is not None:
            return
        candidate = self._first_choice.candidate(future.result(), allowed)
        if candidate is None or (candidate.needs_build and not builds):
            return
        with contextlib.suppress(RuntimeError):  # the pool is shut down: done
            metadata = self._metadata_future(candidate, priority)
            if self._read_ahead is None:
                return
            read = partial(self._read_dependencies, candidate.wheel.url, extras, metadata)
            if metadata.done():
                # On a worker, not on this stack: this may be the solver's thread, and
                # a chain of already-fetched dependencies must not recurse.
                self._pool.submit(read, NAMED)
            else:
                metadata.add_done_callback(lambda _done: read())

    def _read_dependencies(self, key: str, extras: frozenset[str | None],
                           future: Future[CoreMetadata]) -> None:
        """Prefetch the dependencies a first-choice candidate's metadata names (and those
        its requested extras add): pages and first-choice metadata, and so on down, each
        name (and extra) once. Builds never: an sdist dependency gets its page only."""
        read_ahead = self._read_ahead
        if (read_ahead is None or self._closed or future.cancelled()
                or future.exception() is not None):
            return
        metadata = future.result()
        wanted: list[tuple[str, Container[Version] | None, frozenset[str | None]]] = []
        for extra in extras:
            with self._lock:
                if (key, extra) in self._read:
                    continue
                self._read.add((key, extra))
            for name, dependency_extras, allowed in read_ahead(metadata, extra):
                with self._lock:
                    seen = self._ahead.setdefault(name, set())
                    new = frozenset({None, *dependency_extras} - seen)
                    seen.update(new)
                if new:
                    wanted.append((name, allowed, new))
        if wanted:
            trace("Reading ahead: %s", ", ".join(name for name, _a, _e in wanted))
        for name, allowed, new in wanted:
            self._want(name, allowed, new, GUESSED, builds=False)

    def _metadata_future(self, candidate: Candidate, priority: int) -> Future[CoreMetadata]:
        key = candidate.wheel.url
        if candidate.direct is not None:
            done: Future[CoreMetadata] = Future()
            done.set_result(self._direct[candidate.name][1])
            return done
        with self._lock:
            task = self._metadata.get(key)
            if task is None:
                task = self._pool.submit(partial(self._load_metadata, candidate.wheel),
                                         priority)
                self._metadata[key] = task
                return task
        if not task.done():
            task.hurry(priority)
        return task

    def _load_metadata(self, file: DistFile) -> CoreMetadata:
        return parse_core_metadata(self._fetch_metadata(file))

    def _want(self, name: str, allowed: Container[Version] | None,
              extras: frozenset[str | None], priority: int, *, builds: bool) -> None:
        """Fetch `name`'s page, then its first choice's metadata, at `priority` (again
        at a more urgent one if asked for that way later)."""
        allowed = self._constrained(name, allowed)
        key = (name, allowed, extras)
        with self._lock:
            known = self._likely.get(key)
            if self._closed or (known is not None and known <= priority):
                return
            self._likely[key] = priority
        with contextlib.suppress(RuntimeError):  # the pool is shut down: done
            self._versions_future(name, priority).add_done_callback(
                partial(self._fetch_likely, allowed, priority, builds, extras))

    def _constrained(self, name: str, allowed: Container[Version] | None
                     ) -> Container[Version] | None:
        constraint = self._constraints.get(name)
        if constraint is None:
            return allowed
        if allowed is None:
            return constraint
        if isinstance(allowed, PubGrubRange):
            return allowed & constraint
        return allowed  # some other container: the solver's range alone

    def prefetch(self, wanted: Iterable[tuple[str, Container[Version] | None]],
                 *, builds: bool = False) -> None:
        """Start fetching projects' pages and their likely candidates' metadata.

        Each item names a project and the versions its requirement allows (None: any),
        so a pinned `foo==1.2` prefetches the metadata of 1.2, not of the newest `foo`.
        With `builds`, a likely candidate that is an sdist has its metadata built too.
        """
        for name, allowed in wanted:
            self._want(name, allowed, _BASE, NAMED, builds=builds)

    def prefetch_metadata(self, candidates: Iterable[Candidate]) -> None:
        """Start fetching these candidates' metadata (the solver is walking back through a
        project's versions and will likely ask for them one after another)."""
        with contextlib.suppress(RuntimeError):  # the pool is shut down: done
            for candidate in candidates:
                if not candidate.needs_build:  # builds only when the solver asks
                    self._metadata_future(candidate, NAMED)

    def versions(self, name: str) -> ProjectVersions:
        return self._versions_future(name, URGENT).result()

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        return self._metadata_future(candidate, URGENT).result()


#: The extras a plain requirement asks for: none, only the distribution itself.
_BASE: frozenset[str | None] = frozenset({None})
